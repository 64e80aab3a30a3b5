"""Shared on-disk conventions for every index: a folder of plain arrays + ``manifest.json``.

- ``atomic_dir(path)`` yields a temp folder beside ``path`` that is renamed into place only when
  the block finishes; a crash leaves any previous index untouched, and ``recover_dir`` (run by
  ``atomic_dir`` and ``read_manifest``) cleans up or finishes what a killed build left.
- ``write_manifest`` / ``read_manifest`` store kind, format version and parameters; readers check
  kind and version and fail with ``IndexFormatError``. Each format's typed, frozen manifest class
  (``SparseManifest``, ``DenseManifest``, ``ShardedManifest``, ``VideoManifest``; ``DocStoreMeta``
  and ``HomeConfig`` for the doc store and the data home) lives beside that format's reader and
  owns its ``save``/``load``; ``Fields`` is the checked key access their ``load`` uses.
- ``StringArray`` stores many strings as one UTF-8 byte buffer plus int64 offsets (two ``.npy``
  files, mmap-able, no pickle) instead of fixed-width unicode arrays that waste 4 bytes a char.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from drqa_ng.errors import IndexFormatError, NotFoundError, ResourceError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` means the disk (or quota) is full: ``ENOSPC``/``EDQUOT``, or SQLite's "disk is full"."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    import sqlite3  # only to recognise its error type

    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


def _pid_of(name: str, prefix: str) -> int | None:
    """The pid in ``{prefix}{pid}-{ms}`` (temp names written by ``atomic_dir``), or None."""
    pid = name[len(prefix) :].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _leftovers(path: Path, stage: str) -> list[Path]:
    """``.{name}.{stage}-{pid}-{ms}`` siblings of ``path`` left by processes that are gone, newest first."""
    prefix = f".{path.name}.{stage}-"
    found = []
    for p in path.parent.glob(f"{glob.escape(prefix)}*"):  # escaped: the name may hold "*" or "?"
        pid = _pid_of(p.name, prefix)
        if pid is not None and pid != os.getpid() and not pid_alive(pid):
            found.append(p)
    return sorted(found, key=lambda p: p.name.rsplit("-", 1)[-1].zfill(20), reverse=True)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def recover_dir(path: Path) -> None:
    """Finish or undo an index swap that a killed process left half done, and drop its debris.

    ``atomic_dir`` swaps in three renames: ``tmp -> new`` (the build is complete), ``path -> old``,
    ``new -> path``; then it deletes ``old``. For leftovers of dead processes only:

    - a ``.new-*`` folder is a finished build: it is moved into place (the old index set aside);
    - with no index at ``path`` and no finished build, the newest ``.old-*`` folder is moved back;
    - ``.tmp-*`` (unfinished builds) and remaining ``.old-*`` folders are deleted.

    Safe to call at any time (every loader does before reading); errors deleting debris are ignored.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return
    try:
        finished = _leftovers(path, "new")
        if finished:
            newest, *older = finished
            if path.exists():
                aside = path.parent / f".{path.name}.old-{os.getpid()}-{int(time.time() * 1000)}"
                os.replace(path, aside)
            os.replace(newest, path)
            log.warning("recovered %s: finished a swap interrupted by a killed build", path)
            for p in older:
                _remove(p)
        if not path.exists():
            olds = _leftovers(path, "old")
            if olds:
                os.replace(olds[0], path)
                log.warning("recovered %s: restored the previous index set aside by a killed build", path)
        for stage in ("tmp", "old"):
            for p in _leftovers(path, stage):
                log.warning("removing %s left by a killed build", p)
                _remove(p)
        for p in path.parent.glob(f"{glob.escape(f'.{path.name}.old-{os.getpid()}-')}*"):
            _remove(p)
    except PermissionError as e:  # a read-only index folder: leave it as it is
        log.debug("cannot recover %s: %s", path, e)


def index_present(path: Path) -> bool:
    """Whether an index folder is at ``path`` once ``recover_dir`` has finished (or undone) a swap
    that a killed build left half done: the test for "is this argument an index?" that agrees with
    what opening it would find."""
    path = Path(path)
    if not path.is_dir() and path.name and path.parent.is_dir():
        recover_dir(path)
    return path.is_dir()


@contextlib.contextmanager
def atomic_dir(path: Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temp folder; on success it replaces ``path``.

    Crash-safe at every point (see ``recover_dir``, also run here first to clear an earlier killed
    build): the previous index stays readable until the new one is complete, and an interrupted
    swap is finished (or undone) on the next open or build. A full disk raises ``ResourceError``.
    """
    path = Path(path)
    recover_dir(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = f"{os.getpid()}-{int(time.time() * 1000)}"
    tmp = path.parent / f".{path.name}.tmp-{stamp}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(e):
            raise ResourceError(f"disk full while writing {path}: {e}; free space and rerun") from e
        raise
    new = path.parent / f".{path.name}.new-{stamp}"
    os.replace(tmp, new)
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old-{stamp}"
        os.replace(path, old)
    os.replace(new, path)
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
    recover_dir(folder)
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


T = TypeVar("T")
_REQUIRED: Any = object()


class Fields:
    """Checked, typed reads of one JSON object of a manifest (``where`` names it in errors).

    A missing key (without a default) or a value of the wrong type raises ``IndexFormatError`` with
    a one-line reason, so every format's ``load`` fails the same clear way.
    """

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise IndexFormatError(f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise IndexFormatError(f"{self.where}: manifest lacks {key!r}")
        return default

    def integer(self, key: str, default: Any = _REQUIRED) -> int:
        value = self._get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or not float(value).is_integer():
            raise IndexFormatError(f"{self.where}: {key!r} is not an integer: {value!r}")
        return int(value)

    def number(self, key: str, default: Any = _REQUIRED) -> float:
        value = self._get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise IndexFormatError(f"{self.where}: {key!r} is not a number: {value!r}")
        return value  # an int stays an int, so a rewrite of the manifest keeps its bytes

    def text(self, key: str, default: Any = _REQUIRED) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise IndexFormatError(f"{self.where}: {key!r} is not a string: {value!r}")
        return value

    def opt_text(self, key: str) -> str | None:
        """A string or JSON null (a missing key reads as None)."""
        value = self._get(key, None)
        return None if value is None else self.text(key)

    def flag(self, key: str, default: Any = _REQUIRED) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise IndexFormatError(f"{self.where}: {key!r} is not true/false: {value!r}")
        return value

    def sub(self, key: str, default: Any = _REQUIRED) -> Fields:
        """The nested object at ``key`` (``default`` must be a mapping when given)."""
        return Fields(self._get(key, default), f"{self.where}.{key}")

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def array(self, key: str) -> list[Any]:
        value = self._get(key, _REQUIRED)
        if not isinstance(value, list):
            raise IndexFormatError(f"{self.where}: {key!r} is not a list: {value!r}")
        return value

    def unknown(self, known: Iterable[str]) -> dict[str, Any]:
        """Keys this drqa-ng does not know, kept so a rewrite of the manifest loses nothing."""
        skip = {"kind", "format_version", *known}
        return {k: v for k, v in self.data.items() if k not in skip}


@dataclass(frozen=True, slots=True)
class ShardOf:
    """Where a shard's rows sit in the index it was split from: rows [row_offset, row_offset + its count)."""

    total: int
    row_offset: int


def manifest_kind(folder: Path) -> str:
    """The ``kind`` of the index at ``folder`` (any version), for dispatching to its typed manifest."""
    kind = read_manifest(folder)["kind"]
    if not isinstance(kind, str):
        raise IndexFormatError(f"{Path(folder) / MANIFEST}: kind is not a string: {kind!r}")
    return kind


def load_fields(folder: Path, kind: str, version: int) -> Fields:
    """``read_manifest`` (kind and version checked) wrapped for typed reads."""
    folder = Path(folder)
    return Fields(read_manifest(folder, kind, version), str(folder / MANIFEST))


def load_array(folder: Path, name: str, mmap: bool = True) -> np.ndarray:
    """Load ``folder/name`` (.npy) memory-mapped, never with pickle; corrupt files raise IndexFormatError."""
    p = Path(folder) / name
    if not p.is_file():
        raise IndexFormatError(f"{folder} is incomplete: {name} missing")
    try:
        return np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise IndexFormatError(f"{p} is corrupt: {e}") from e


CHECK_CHUNK = 1 << 22
"""Elements read at a time by the array checks below (bounded memory on mmap'd arrays of any size)."""


def non_decreasing(arr: np.ndarray, chunk: int = CHECK_CHUNK) -> bool:
    """Whether ``arr[i] <= arr[i + 1]`` for every ``i`` (an offsets array such as CSR ``indptr``)."""
    for a in range(0, max(len(arr) - 1, 0), chunk):
        part = np.asarray(arr[a : a + chunk + 1])
        if bool((part[1:] < part[:-1]).any()):
            return False
    return True


def within(arr: np.ndarray, stop: int, chunk: int = CHECK_CHUNK) -> bool:
    """Whether every value of ``arr`` is in ``[0, stop)`` (row or column numbers into a table of ``stop``)."""
    for a in range(0, len(arr), chunk):
        part = np.asarray(arr[a : a + chunk])
        if len(part) and (int(part.min()) < 0 or int(part.max()) >= stop):
            return False
    return True


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric int8 of a 2-D table, as the shipped models store it: (int8, scale) with
    scale[r] = max_c |w[r, c]| / 127 (at least 1e-12 / 127), int8[r, c] = round(w[r, c] / scale[r]),
    so w[r, c] ~ int8[r, c] · scale[r]; ``scale`` is float32, one per row."""
    scale = np.maximum(np.abs(w).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


@dataclass(frozen=True, slots=True)
class FilePart:
    """One file of a model split into parts (each below a repository's file-size limit): its name,
    size and sha256, as a manifest lists it."""

    file: str
    bytes: int
    sha256: str


class StringArray(Sequence[str]):
    """Read-only list of strings backed by ``<stem>.bytes.npy`` (uint8) and ``<stem>.offsets.npy`` (int64)."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        self._data = data
        self._offsets = offsets
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # sorted hashes, their rows

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
        if (
            offsets.ndim != 1
            or len(offsets) == 0
            or int(offsets[0]) != 0
            or int(offsets[-1]) != len(data)
            or not non_decreasing(offsets)
        ):
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

    def rows_of(self, strings: Sequence[str]) -> np.ndarray:
        """Row of each string (int64; -1 where absent; the first row of a repeated string).

        The first call sorts a 64-bit hash of every string (``string_hashes``, ~0.2 s for 400k ids;
        kept on this object); a lookup is a binary search, confirmed by comparing the stored string.
        """
        if self._lookup is None:
            hashes = string_hashes(np.asarray(self._data), np.asarray(self._offsets))
            order = np.argsort(hashes, kind="stable")
            self._lookup = (hashes[order], order)
        sorted_hashes, order = self._lookup
        out = np.full(len(strings), -1, dtype=np.int64)
        if not len(strings) or not len(sorted_hashes):
            return out
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(b) for b in encoded])
        wanted = string_hashes(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)
        at = np.searchsorted(sorted_hashes, wanted)
        for i, (a, h) in enumerate(zip(at.tolist(), wanted.tolist(), strict=True)):
            while a < len(sorted_hashes) and int(sorted_hashes[a]) == h:
                if self[int(order[a])] == strings[i]:
                    out[i] = int(order[a])
                    break
                a += 1
        return out


_HASH_BASE = np.uint64(1099511628211)


def string_hashes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A 64-bit polynomial hash of each string ``data[offsets[i]:offsets[i+1]]`` (uint8 bytes), vectorised.

    h(b_0..b_{L-1}) = Σ_j (b_j + 1) · P^(L-1-j) mod 2^64, with P = 1099511628211 (the FNV-1 64-bit
    prime); empty strings hash to 0. Used to find rows by string, each hit confirmed on the string.
    """
    data = np.asarray(data, dtype=np.uint8)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    out = np.zeros(len(lengths), dtype=np.uint64)
    if len(data) == 0:
        return out
    powers = np.ones(int(lengths.max()), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(1, len(powers)):
            powers[i] = powers[i - 1] * _HASH_BASE
        ends = np.repeat(offsets[1:], lengths)
        terms = (data.astype(np.uint64) + np.uint64(1)) * powers[ends - 1 - np.arange(len(data))]
        nonempty = lengths > 0
        out[nonempty] = np.add.reduceat(terms, offsets[:-1][nonempty])
    return out


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
