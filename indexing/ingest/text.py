"""Opening corpus files (plain, gzip, bzip2) and normalising document text to blank-line paragraphs."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from drqa_ng.errors import DataFormatError

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")

COMPRESSED_SUFFIXES = (".gz", ".bz2")


# What a decompressor raises on a truncated or damaged stream (bz2: EOFError / OSError "Invalid
# data stream"; gzip: EOFError / BadGzipFile (an OSError); zlib.error on a bad block).
_DECOMPRESS_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError)


class _CheckedStream(io.RawIOBase):
    """A decompressing stream whose read errors become one-line ``DataFormatError``s naming the file
    and how far into the decompressed data it got, instead of an ``EOFError`` traceback."""

    def __init__(self, inner: IO[bytes], path: Path, kind: str) -> None:
        self._inner = inner
        self._path = path
        self._kind = kind
        self.position = 0  # decompressed bytes delivered so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except _DECOMPRESS_ERRORS as e:
            raise DataFormatError(
                f"{self._path}: truncated or corrupt {self._kind} data after {self.position:,} "
                f"decompressed bytes ({e or type(e).__name__})"
            ) from e
        n = len(data)
        buffer[:n] = data
        self.position += n
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading bytes, decompressing gzip/bzip2 by magic number (not by name).

    A truncated or damaged compressed file raises ``DataFormatError`` when the bad part is read.
    """
    with open(path, "rb") as f:
        magic = f.read(3)
    inner: IO[bytes]
    if magic.startswith(_GZIP_MAGIC):
        inner, kind = gzip.open(path, "rb"), "gzip"  # type: ignore[assignment]  # noqa: SIM115 (returned)
    elif magic == _BZIP2_MAGIC:
        inner, kind = bz2.open(path, "rb"), "bzip2"  # noqa: SIM115 (returned; the caller closes it)
    else:
        return open(path, "rb")
    return io.BufferedReader(_CheckedStream(inner, path, kind), buffer_size=1 << 16)


def open_text(path: Path) -> io.TextIOWrapper:
    """Open a (possibly compressed) UTF-8 text file; a leading BOM is dropped."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline=None)


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a (possibly compressed) UTF-8 text file, line ends normalised to ``\\n``.

    Decoded line by line so that bytes that are not UTF-8 raise ``DataFormatError`` naming the file,
    line and column (a ``TextIOWrapper`` fails on an 8 KiB chunk and cannot say where).
    """
    with open_binary(path) as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataFormatError(
                    f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                    "re-encode the file as UTF-8"
                ) from e
            if line.endswith("\r\n"):
                line = line[:-2] + "\n"
            elif line.endswith("\r"):
                line = line[:-1]
            yield lineno, line


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
