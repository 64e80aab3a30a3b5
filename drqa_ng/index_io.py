"""Shared on-disk conventions for every index: a folder of plain arrays + ``manifest.json``.

- ``atomic_dir(path)`` yields a temp folder beside ``path`` that is renamed into place only when
  the block finishes; a crash leaves any previous index untouched.
- ``write_manifest`` / ``read_manifest`` store kind, format version and parameters; readers check
  kind and version and fail with ``IndexFormatError``.
- ``StringArray`` stores many strings as one UTF-8 byte buffer plus int64 offsets (two ``.npy``
  files, mmap-able, no pickle) instead of fixed-width unicode arrays that waste 4 bytes a char.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import IndexFormatError, NotFoundError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@contextlib.contextmanager
def atomic_dir(path: Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temp folder; on success it replaces ``path`` in one rename.

    An existing ``path`` is moved aside first and removed only after the new folder is in place.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old-{os.getpid()}-{int(time.time() * 1000)}"
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: Path, kind: str, version: int, **fields: Any) -> dict[str, Any]:
    """Write ``manifest.json`` with ``kind``, ``format_version`` and the given JSON-able fields."""
    data: dict[str, Any] = {"kind": kind, "format_version": version, **fields}
    (Path(folder) / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def read_manifest(folder: Path, kind: str | None = None, version: int | None = None) -> dict[str, Any]:
    """Read and check a manifest. Raises NotFoundError / IndexFormatError with a one-line reason."""
    folder = Path(folder)
    if not folder.exists():
        raise NotFoundError(f"index folder not found: {folder}")
    mpath = folder / MANIFEST
    if not mpath.is_file():
        raise IndexFormatError(f"{folder} is not an index folder (no {MANIFEST})")
    try:
        data = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IndexFormatError(f"{mpath} is corrupt: {e}") from e
    if not isinstance(data, dict) or "kind" not in data or "format_version" not in data:
        raise IndexFormatError(f"{mpath} lacks kind/format_version")
    if kind is not None and data["kind"] != kind:
        raise IndexFormatError(f"{folder} holds a {data['kind']!r} index, expected {kind!r}")
    if version is not None and data["format_version"] != version:
        raise IndexFormatError(
            f"{folder} has format version {data['format_version']}, this drqa-ng reads {version}; rebuild it"
        )
    return data


def load_array(folder: Path, name: str, mmap: bool = True) -> np.ndarray:
    """Load ``folder/name`` (.npy) memory-mapped, never with pickle; corrupt files raise IndexFormatError."""
    p = Path(folder) / name
    if not p.is_file():
        raise IndexFormatError(f"{folder} is incomplete: {name} missing")
    try:
        return np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise IndexFormatError(f"{p} is corrupt: {e}") from e


class StringArray(Sequence[str]):
    """Read-only list of strings backed by ``<stem>.bytes.npy`` (uint8) and ``<stem>.offsets.npy`` (int64)."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        self._data = data
        self._offsets = offsets

    @staticmethod
    def write(folder: Path, stem: str, strings: Iterable[str]) -> int:
        """Write strings; returns how many. Streams through a file so memory stays bounded."""
        folder = Path(folder)
        raw_path = folder / f".{stem}.raw"
        offsets = [0]
        pos = 0
        with open(raw_path, "wb") as f:
            for s in strings:
                b = s.encode("utf-8")
                f.write(b)
                pos += len(b)
                offsets.append(pos)
        raw = np.fromfile(raw_path, dtype=np.uint8)
        np.save(folder / f"{stem}.bytes.npy", raw)
        np.save(folder / f"{stem}.offsets.npy", np.asarray(offsets, dtype=np.int64))
        raw_path.unlink()
        return len(offsets) - 1

    @classmethod
    def open(cls, folder: Path, stem: str) -> StringArray:
        data = load_array(folder, f"{stem}.bytes.npy")
        offsets = load_array(folder, f"{stem}.offsets.npy")
        if offsets.ndim != 1 or len(offsets) == 0 or int(offsets[-1]) != len(data):
            raise IndexFormatError(f"{folder}/{stem}: offsets do not match data (corrupt index)")
        return cls(data, offsets)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        return bytes(self._data[a:b]).decode("utf-8")

    def take(self, rows: Iterable[int]) -> list[str]:
        """Batch lookup of many rows."""
        return [self[int(r)] for r in rows]


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
