"""Split a sparse (BM25) or Flat dense index into N row-range shard folders + a manifest.

The shards keep the full index's weights and vectors, so ``drqa_ng.retrieval.sharded`` returns
exactly the unsharded top-k; each shard can be opened, mmap'd and searched on its own (one per
process or machine), so the memory a process needs is bounded by its shard.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import InputError, UnsupportedError
from drqa_ng.index_io import ShardOf, StringArray, atomic_dir, load_array, manifest_kind
from drqa_ng.retrieval import dense as dense_mod
from drqa_ng.retrieval import sharded
from drqa_ng.retrieval import sparse as sparse_mod
from indexing.sparse import DL_FILE

log = logging.getLogger(__name__)


def _row_ranges(n: int, shards: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n, shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def _write_ids(src: StringArray, rows: range, dst: Path, stem: str) -> None:
    StringArray.write(dst, stem, (src[i] for i in rows))


def _sparse_shard(src: Path, m: sparse_mod.SparseManifest, r0: int, r1: int, dst: Path) -> None:
    indptr, indices, data = (load_array(src, f) for f in ("indptr.npy", "indices.npy", "data.npy"))
    mask = (indices >= r0) & (indices < r1)
    before = np.zeros(len(mask) + 1, np.int64)
    np.cumsum(mask, out=before[1:])
    new_indptr = before[np.asarray(indptr)]  # entries of the shard before each column start
    np.save(dst / "indptr.npy", new_indptr)
    np.save(dst / "indices.npy", (indices[mask] - r0).astype(np.int32))
    np.save(dst / "data.npy", np.asarray(data[mask], dtype=np.float32))
    if (src / DL_FILE).is_file():
        np.save(dst / DL_FILE, load_array(src, DL_FILE)[r0:r1])
    _write_ids(StringArray.open(src, "ids"), range(r0, r1), dst, "ids")
    occupied = int(np.count_nonzero(np.diff(new_indptr)))
    shard = replace(
        m, units=r1 - r0, nnz=int(new_indptr[-1]), occupied_buckets=occupied, shard_of=ShardOf(m.units, r0)
    )
    shard.save(dst)


def _dense_shard(src: Path, m: dense_mod.DenseManifest, index: Any, r0: int, r1: int, dst: Path) -> None:
    import faiss

    part = faiss.IndexFlatIP(index.d)
    if r1 > r0:
        part.add(index.reconstruct_n(r0, r1 - r0))
    faiss.write_index(part, str(dst / dense_mod.INDEX_FILE))
    _write_ids(StringArray.open(src, dense_mod.IDS_STEM), range(r0, r1), dst, dense_mod.IDS_STEM)
    replace(m, count=r1 - r0, shard_of=ShardOf(m.count, r0)).save(dst)


def split_index(src: Path, out: Path, shards: int) -> list[tuple[int, int]]:
    """Write ``out`` (atomically): ``shards`` row-range shards of the index ``src``; returns the ranges."""
    src, out = Path(src), Path(out)
    if shards < 1:
        raise InputError(f"need at least 1 shard, got {shards}")
    kind = manifest_kind(src)
    index: Any = None
    m: sparse_mod.SparseManifest | dense_mod.DenseManifest
    if kind == sparse_mod.KIND:
        m = sparse_mod.SparseManifest.load(src)
        if m.scoring != "bm25":
            raise UnsupportedError("only BM25 indexes can be sharded (TF-IDF query weights need global df)")
        n = m.units
    elif kind == dense_mod.KIND:
        import faiss

        m = dense_mod.DenseManifest.load(src)
        index = faiss.read_index(str(src / dense_mod.INDEX_FILE))
        if not isinstance(faiss.downcast_index(index), faiss.IndexFlat):
            raise UnsupportedError(f"only Flat dense indexes can be split; {src} is {m.factory}")
        n = m.count
    else:
        raise UnsupportedError(f"{src}: cannot shard a {kind!r} index")
    ranges = _row_ranges(n, shards)
    with atomic_dir(out) as tmp:
        entries = []
        for i, (r0, r1) in enumerate(ranges):
            name = f"shard-{i:05d}"
            (tmp / name).mkdir()
            if isinstance(m, sparse_mod.SparseManifest):
                _sparse_shard(src, m, r0, r1, tmp / name)
            else:
                _dense_shard(src, m, index, r0, r1, tmp / name)
            entries.append(sharded.ShardEntry(name, r0, r1 - r0))
        sharded.ShardedManifest(
            base_kind=kind,
            unit=m.unit,
            shards=tuple(entries),
            corpus_hash=m.corpus_hash,
            docs=m.docs,
            source=str(src.resolve()),
        ).save(tmp)
    log.info("split %s into %d shards at %s", src, shards, out)
    return ranges
