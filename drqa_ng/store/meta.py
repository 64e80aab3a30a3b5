"""The ``meta`` table of a doc store (``DocStoreMeta``, the one owner of that schema) and ``StoreInfo``.

``indexing.docstore`` writes the table with ``DocStoreMeta.save``; ``DocStore.open`` and the
appender read it with ``DocStoreMeta.load``, which checks kind and format version.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from drqa_ng.errors import IndexFormatError
from drqa_ng.types import Unit

KIND = "docstore"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What a doc store holds and how it was built."""

    path: str
    format_version: int
    corpus_hash: str
    documents: int
    paragraphs: int
    passages: int
    passage_words: int
    min_paragraph_chars: int
    sources: tuple[str, ...]
    created: str

    def count(self, unit: Unit) -> int:
        return {"doc": self.documents, "paragraph": self.paragraphs, "passage": self.passages}[unit]


@dataclass(frozen=True, slots=True)
class DocStoreMeta:
    """The ``meta`` table of a doc store: the one owner of its schema (``indexing.docstore`` writes it
    with ``save``, ``DocStore.open`` and the appender read it with ``load``).

    Stored as ``(key, value)`` text rows: kind, format_version, corpus_hash, the counts, the build
    settings, ``sources`` (a JSON list) and ``created`` (ISO time).
    """

    KIND: ClassVar[str] = KIND
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    corpus_hash: str
    documents: int
    paragraphs: int
    passages: int
    passage_words: int
    min_paragraph_chars: int
    sources: tuple[str, ...]
    created: str
    duplicates: int = 0
    empty: int = 0

    def rows(self) -> list[tuple[str, str]]:
        """``(key, value)`` rows, sorted by key, as ``save`` writes them."""
        values = {
            "kind": KIND,
            "format_version": str(FORMAT_VERSION),
            "corpus_hash": self.corpus_hash,
            "documents": str(self.documents),
            "paragraphs": str(self.paragraphs),
            "passages": str(self.passages),
            "passage_words": str(self.passage_words),
            "min_paragraph_chars": str(self.min_paragraph_chars),
            "duplicates": str(self.duplicates),
            "empty": str(self.empty),
            "sources": json.dumps(list(self.sources)),
            "created": self.created,
        }
        return sorted(values.items())

    def save(self, conn: sqlite3.Connection) -> None:
        """Insert (or update in place) every row of the ``meta`` table through ``conn``."""
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            self.rows(),
        )

    @classmethod
    def load(cls, conn: sqlite3.Connection, path: Path) -> DocStoreMeta:
        """Read and check the ``meta`` table of the store at ``path``: IndexFormatError naming the problem."""
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as e:
            raise IndexFormatError(f"{path} is not a drqa-ng doc store ({e})") from e
        if meta.get("kind") != KIND:
            raise IndexFormatError(f"{path} is not a drqa-ng doc store (kind={meta.get('kind')!r})")
        version = meta.get("format_version")
        if version != str(FORMAT_VERSION):
            raise IndexFormatError(
                f"{path} has doc store format version {version}, this drqa-ng reads {FORMAT_VERSION}; rebuild it"
            )
        try:
            return cls(
                corpus_hash=meta["corpus_hash"],
                documents=int(meta["documents"]),
                paragraphs=int(meta["paragraphs"]),
                passages=int(meta["passages"]),
                passage_words=int(meta["passage_words"]),
                min_paragraph_chars=int(meta["min_paragraph_chars"]),
                sources=tuple(json.loads(meta["sources"])),
                created=meta["created"],
                duplicates=int(meta.get("duplicates", 0)),
                empty=int(meta.get("empty", 0)),
            )
        except (KeyError, ValueError, TypeError) as e:
            raise IndexFormatError(f"{path} has an incomplete meta table ({e!r}); rebuild it") from e
