"""The document store: documents and their paragraph/passage units in one SQLite file."""
