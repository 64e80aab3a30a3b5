"""Normalising corpus text to blank-line paragraphs (files are opened with ``drqa_ng.inputs``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from drqa_ng.errors import DataFormatError
from drqa_ng.inputs import open_binary

_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")

COMPRESSED_SUFFIXES = (".gz", ".bz2")


def head(path: Path, n: int = 65536) -> str:
    """The first ``n`` bytes of the (decompressed) file as text, for format sniffing."""
    with open_binary(path) as f:
        data = f.read(n)
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def check_encodable(value: str, where: str, field: str) -> None:
    """DataFormatError naming ``where`` and ``field`` when ``value`` holds a lone surrogate.

    JSON may escape one (``"\\ud800"``); Python then holds a string no UTF-8 writer (SQLite, a
    file) accepts, so it is refused here, where the file and line are still known.
    """
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise DataFormatError(
            f"{where}: {field} holds a lone surrogate {value[e.start]!r} at char {e.start} (not valid Unicode text)"
        ) from None


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
