"""Opening corpus files (plain, gzip, bzip2) and normalising document text to blank-line paragraphs."""

from __future__ import annotations

import bz2
import gzip
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")

COMPRESSED_SUFFIXES = (".gz", ".bz2")


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading bytes, decompressing gzip/bzip2 by magic number (not by name)."""
    with open(path, "rb") as f:
        magic = f.read(3)
    if magic.startswith(_GZIP_MAGIC):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if magic == _BZIP2_MAGIC:
        return bz2.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def open_text(path: Path) -> io.TextIOWrapper:
    """Open a (possibly compressed) UTF-8 text file; a leading BOM is dropped."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline=None)


def head(path: Path, n: int = 65536) -> str:
    """The first ``n`` bytes of the (decompressed) file as text, for format sniffing."""
    with open_binary(path) as f:
        data = f.read(n)
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def clean_line(line: str) -> str:
    """Collapse runs of spaces (incl. non-breaking and ideographic ones) and trim."""
    return _SPACES.sub(" ", line).strip()


def lines_to_text(lines: Iterable[str]) -> str:
    """One paragraph per non-blank line (WikiExtractor / wikitext style), joined with blank lines."""
    return "\n\n".join(c for c in (clean_line(line) for line in lines) if c)


def normalize_text(text: str) -> str:
    """Blank-line-separated paragraphs: line endings unified, blocks trimmed, empty blocks dropped.

    Single newlines inside a paragraph are kept (they are part of the author's text).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = (clean_line_block(b) for b in _BLANK_LINES.split(text))
    return "\n\n".join(b for b in blocks if b)


def clean_line_block(block: str) -> str:
    """Trim every line of a paragraph and drop its blank lines."""
    return "\n".join(c for c in (clean_line(line) for line in block.split("\n")) if c)


def source_name(path: Path) -> str:
    """A short name for a corpus source: the folder name, or the file name without its extensions."""
    name = path.name
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for suffix in (".jsonl", ".json", ".xml", ".txt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name
