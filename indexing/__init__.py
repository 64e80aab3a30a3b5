"""Building doc stores and indexes from raw corpora (streaming, bounded memory)."""
