"""Split a sparse (BM25) or Flat dense index into N row-range shard folders + a manifest.

The shards keep the full index's weights and vectors, so ``drqa_ng.retrieval.sharded`` returns
exactly the unsharded top-k; each shard can be opened, mmap'd and searched on its own (one per
process or machine), so the memory a process needs is bounded by its shard.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import InputError, UnsupportedError
from drqa_ng.index_io import StringArray, atomic_dir, load_array, read_manifest, write_manifest
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


def _sparse_shard(src: Path, m: dict[str, Any], r0: int, r1: int, dst: Path) -> None:
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
    fields = {k: v for k, v in m.items() if k not in ("kind", "format_version")}
    occupied = int(np.count_nonzero(np.diff(new_indptr)))
    fields["counts"] = {"units": r1 - r0, "nnz": int(new_indptr[-1]), "occupied_buckets": occupied}
    fields["shard_of"] = {"units": int(m["counts"]["units"]), "row_offset": r0}
    write_manifest(dst, sparse_mod.KIND, sparse_mod.FORMAT_VERSION, **fields)


def _dense_shard(src: Path, m: dict[str, Any], index: Any, r0: int, r1: int, dst: Path) -> None:
    import faiss

    part = faiss.IndexFlatIP(index.d)
    if r1 > r0:
        part.add(index.reconstruct_n(r0, r1 - r0))
    faiss.write_index(part, str(dst / dense_mod.INDEX_FILE))
    _write_ids(StringArray.open(src, dense_mod.IDS_STEM), range(r0, r1), dst, dense_mod.IDS_STEM)
    fields = {k: v for k, v in m.items() if k not in ("kind", "format_version")}
    fields["count"] = r1 - r0
    fields["shard_of"] = {"count": int(m["count"]), "row_offset": r0}
    write_manifest(dst, dense_mod.KIND, dense_mod.FORMAT_VERSION, **fields)


def split_index(src: Path, out: Path, shards: int) -> list[tuple[int, int]]:
    """Write ``out`` (atomically): ``shards`` row-range shards of the index ``src``; returns the ranges."""
    src, out = Path(src), Path(out)
    if shards < 1:
        raise InputError(f"need at least 1 shard, got {shards}")
    m = read_manifest(src)
    kind = m["kind"]
    index: Any = None
    if kind == sparse_mod.KIND:
        if m["params"]["scoring"] != "bm25":
            raise UnsupportedError("only BM25 indexes can be sharded (TF-IDF query weights need global df)")
        n = int(m["counts"]["units"])
    elif kind == dense_mod.KIND:
        import faiss

        index = faiss.read_index(str(src / dense_mod.INDEX_FILE))
        if not isinstance(faiss.downcast_index(index), faiss.IndexFlat):
            raise UnsupportedError(f"only Flat dense indexes can be split; {src} is {m.get('factory')}")
        n = int(m["count"])
    else:
        raise UnsupportedError(f"{src}: cannot shard a {kind!r} index")
    ranges = _row_ranges(n, shards)
    with atomic_dir(out) as tmp:
        entries = []
        for i, (r0, r1) in enumerate(ranges):
            name = f"shard-{i:05d}"
            (tmp / name).mkdir()
            if kind == sparse_mod.KIND:
                _sparse_shard(src, m, r0, r1, tmp / name)
            else:
                _dense_shard(src, m, index, r0, r1, tmp / name)
            entries.append({"path": name, "row_offset": r0, "units": r1 - r0})
        write_manifest(
            tmp,
            sharded.KIND,
            sharded.FORMAT_VERSION,
            base_kind=kind,
            unit=m["unit"],
            shards=entries,
            corpus_hash=m.get("corpus_hash", ""),
            docs=m.get("docs"),
            source=str(src.resolve()),
        )
    log.info("split %s into %d shards at %s", src, shards, out)
    return ranges
