"""Opening input files: one text/JSON opener for every file drqa-ng reads (corpora, question sets,
reader training data, article lists).

Compressed files (gzip, bzip2) are recognised by their magic number, not their name, and a damaged
stream raises ``DataFormatError`` naming the file; text is UTF-8 (a leading BOM is dropped); JSON
syntax errors become ``DataFormatError`` naming ``file:line``. Parsing the records stays with each
format's reader.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from drqa_ng.errors import DataFormatError, NotFoundError

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"

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


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` of each non-blank line of a JSON-lines file (possibly compressed);
    a line that is not JSON raises ``DataFormatError`` naming the file and line."""
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            raise DataFormatError(f"{path}:{lineno}: invalid JSON: {e}") from e


def read_json(f: TextIO, path: Path) -> Any:
    """``json.load(f)`` whose syntax and decoding errors become a DataFormatError naming ``path``."""
    try:
        return json.load(f)
    except json.JSONDecodeError as e:
        raise DataFormatError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from e
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path}: not UTF-8 text ({e.reason}); re-encode the file as UTF-8") from e
    except RecursionError:  # the decoder recurses once per nesting level
        raise DataFormatError(f"{path}: JSON nested too deeply") from None


def read_article_list(path: Path) -> set[str]:
    """One article title a line (blank lines and ``#`` comments ignored)."""
    if not Path(path).is_file():
        raise NotFoundError(f"article list not found: {path}")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def squad_qas(data: Any, path: Path, articles: set[str] | None) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(title, context, qa)`` for every question of a parsed SQuAD JSON file, optionally only ``articles``."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataFormatError(f"{path}: not a SQuAD file (no top-level 'data' list)")
    for art in data["data"]:
        title = str(art.get("title", ""))
        if articles is not None and title not in articles:
            continue
        for para in art.get("paragraphs", []):
            ctx = str(para.get("context", ""))
            for qa in para.get("qas", []):
                yield title, ctx, qa
