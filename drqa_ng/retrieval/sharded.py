"""Search a sharded index: N shard folders (each a plain sparse or dense index) + a manifest.

Folder layout (written by ``indexing.shard.split_index``)::

    manifest.json   (``ShardedManifest``) kind "sharded", base_kind "sparse" | "dense", unit, shards: [{path, row_offset, units}]
    shard-00000/    an ordinary index folder holding rows [row_offset, row_offset + units)
    shard-00001/ ...

Sparse shards keep the weights of the whole index (BM25 document weights use the global ``N``,
``df`` and ``avgdl``; a BM25 query weight is just the query term count), so a unit's score in its
shard equals its unsharded score bit for bit. Each shard is scored in its own thread (numpy
releases the GIL in the heavy parts), the shards' top-k candidates are merged by (score desc,
global row asc), exactly the unsharded order. Dense shards are combined with FAISS
``IndexShards`` (threaded, successive ids), which merges the per-shard top-k the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from drqa_ng.errors import IndexFormatError, UnsupportedError
from drqa_ng.index_io import Fields, load_fields, write_manifest
from drqa_ng.retrieval.base import check_queries
from drqa_ng.retrieval.sparse import SparseIndex
from drqa_ng.types import Hit, doc_id_of

log = logging.getLogger(__name__)

KIND = "sharded"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ShardEntry:
    """One shard folder (relative to the sharded index) holding rows [row_offset, row_offset + units)."""

    path: str
    row_offset: int
    units: int


@dataclass(frozen=True, slots=True)
class ShardedManifest:
    """``manifest.json`` of a sharded index: the one owner of its schema (``indexing.shard`` writes it
    with ``save``, ``open_sharded`` reads it with ``load``). ``source``: the index that was split."""

    KIND: ClassVar[str] = KIND
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    base_kind: str
    unit: str
    shards: tuple[ShardEntry, ...]
    corpus_hash: str = ""
    docs: str | None = None
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON fields (without kind and format_version)."""
        return {
            **self.extra,
            "base_kind": self.base_kind,
            "unit": self.unit,
            "shards": [{"path": e.path, "row_offset": e.row_offset, "units": e.units} for e in self.shards],
            "corpus_hash": self.corpus_hash,
            "docs": self.docs,
            "source": self.source,
        }

    def save(self, folder: Path) -> None:
        write_manifest(folder, KIND, FORMAT_VERSION, **self.to_json())

    @classmethod
    def load(cls, folder: Path) -> ShardedManifest:
        """Read and check ``folder/manifest.json``: NotFoundError, or IndexFormatError naming the problem."""
        f = load_fields(folder, KIND, FORMAT_VERSION)
        entries = [Fields(e, f"{f.where}.shards") for e in f.array("shards")]
        m = cls(
            base_kind=f.text("base_kind"),
            unit=f.text("unit"),
            shards=tuple(
                ShardEntry(e.text("path"), e.integer("row_offset"), e.integer("units")) for e in entries
            ),
            corpus_hash=f.text("corpus_hash", ""),
            docs=f.opt_text("docs"),
            source=f.text("source", ""),
        )
        # keys this version does not write: kept, so a rewrite of the manifest loses nothing
        return replace(m, extra=f.unknown(m.to_json()))


def _shard_entries(path: Path, manifest: ShardedManifest) -> list[tuple[Path, int, int]]:
    entries = [(path / s.path, s.row_offset, s.units) for s in manifest.shards]
    if not entries:
        raise IndexFormatError(f"{path}: the manifest lists no shards")
    expect = 0
    for folder, offset, units in entries:
        if offset != expect:
            raise IndexFormatError(f"{path}: shard {folder.name} starts at row {offset}, expected {expect}")
        expect += units
    return entries


class ShardedSparseIndex:
    """BM25 shards searched in parallel threads; same hits as the unsharded index."""

    def __init__(self, path: Path, manifest: ShardedManifest, shards: list[SparseIndex], offsets: list[int]):
        self.path = path
        self.manifest = manifest
        self._shards = shards
        self._offsets = offsets
        self._pool = ThreadPoolExecutor(max_workers=len(shards), thread_name_prefix="shard")

    @classmethod
    def open(cls, path: Path, manifest: ShardedManifest) -> ShardedSparseIndex:
        entries = _shard_entries(path, manifest)
        shards = [SparseIndex.open(folder) for folder, _, _ in entries]
        for s, (folder, _, units) in zip(shards, entries, strict=True):
            if len(s) != units:
                raise IndexFormatError(f"{folder} holds {len(s)} units, the manifest says {units}")
            if s.scoring != "bm25":
                raise UnsupportedError(f"{folder}: sharded search needs BM25 shards (TF-IDF queries use df)")
        return cls(path, manifest, shards, [o for _, o, _ in entries])

    @property
    def unit(self) -> str:
        return self.manifest.unit

    def __len__(self) -> int:
        return sum(len(s) for s in self._shards)

    def _shard_top(self, i: int, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows, sc = self._shards[i].scores(query)
        keep = sc != 0
        rows, sc = rows[keep], sc[keep]
        if len(rows) > k:
            part = np.argpartition(-sc, k - 1)[:k]
            rows, sc = rows[part], sc[part]
        return rows.astype(np.int64) + self._offsets[i], sc

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` units per query over all shards, best first, ties by global row."""
        check_queries(queries, k)
        out: list[list[Hit]] = []
        for q in queries:
            parts = list(
                self._pool.map(
                    self._shard_top,
                    range(len(self._shards)),
                    [q] * len(self._shards),
                    [k] * len(self._shards),
                )
            )
            rows = np.concatenate([p[0] for p in parts])
            sc = np.concatenate([p[1] for p in parts])
            if len(rows) > k:
                part = np.argpartition(-sc, k - 1)[:k]
                rows, sc = rows[part], sc[part]
            order = np.lexsort((rows, -sc))
            hits = []
            for r, s in zip(rows[order], sc[order], strict=True):
                i = int(np.searchsorted(self._offsets, r, side="right")) - 1
                uid = self._shards[i].unit_ids([int(r) - self._offsets[i]])[0]
                hits.append(Hit(uid, doc_id_of(uid), float(s)))
            out.append(hits)
        return out


def open_sharded(path: Path) -> Any:
    """Open a sharded index folder as a Retriever (sparse: threads; dense: FAISS IndexShards)."""
    path = Path(path)
    manifest = ShardedManifest.load(path)
    base = manifest.base_kind
    if base == "sparse":
        return ShardedSparseIndex.open(path, manifest)
    if base == "dense":
        return open_sharded_dense(path, manifest)
    raise IndexFormatError(f"{path}: unknown base_kind {base!r}")


class ConcatIds(Sequence[str]):
    """Several id lists read as one (global row -> shard by binary search over row offsets)."""

    def __init__(self, parts: Sequence[Sequence[str]]) -> None:
        self._parts = list(parts)
        self._starts = np.cumsum([0, *(len(p) for p in self._parts)])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, row: int) -> str:  # type: ignore[override]
        if not 0 <= row < len(self):
            raise IndexError(row)
        i = int(np.searchsorted(self._starts, row, side="right")) - 1
        return self._parts[i][row - int(self._starts[i])]

    def rows_of(self, strings: Sequence[str]) -> np.ndarray:
        """Global row of each string (-1 where absent): each part's ``rows_of``, the first part wins."""
        out = np.full(len(strings), -1, dtype=np.int64)
        for part, start in zip(self._parts, self._starts[:-1].tolist(), strict=True):
            todo = np.flatnonzero(out < 0)
            if not len(todo):
                break
            found = part.rows_of([strings[int(i)] for i in todo])  # type: ignore[attr-defined]
            hit = found >= 0
            out[todo[hit]] = found[hit] + start
        return out


def open_sharded_dense(path: Path, manifest: ShardedManifest) -> Any:
    """A ``DenseIndex`` over FAISS ``IndexShards`` of the shard folders (ids concatenated in order)."""
    import faiss

    from drqa_ng.index_io import StringArray
    from drqa_ng.retrieval.dense import IDS_STEM, INDEX_FILE, DenseIndex, DenseManifest

    entries = _shard_entries(path, manifest)
    shards: Any = None
    ids, first = [], None
    for folder, _, units in entries:
        m = DenseManifest.load(folder)
        first = first or m
        try:
            sub = faiss.read_index(str(folder / INDEX_FILE))
        except RuntimeError as e:
            raise IndexFormatError(f"{folder / INDEX_FILE} is corrupt: {str(e).splitlines()[0]}") from e
        part_ids = StringArray.open(folder, IDS_STEM)
        if sub.ntotal != units or len(part_ids) != units or sub.d != first.dim:
            raise IndexFormatError(
                f"{folder}: {sub.ntotal} vectors / {len(part_ids)} ids, the manifest says {units}"
            )
        if shards is None:
            shards = faiss.IndexShards(sub.d, True, True)  # type: ignore[call-arg]  # threaded, successive ids
        shards.add_shard(sub)  # faiss keeps a reference to each shard index
        ids.append(part_ids)
    assert first is not None  # _shard_entries guarantees at least one shard
    all_ids = ConcatIds(ids)
    return DenseIndex(path, shards, all_ids, replace(first, count=len(all_ids)))
