"""``drqa-ng add-docs``: append documents to a doc store and bring its indexes up to date, no rebuild.

Each index is *caught up* with its store: the units at positions ``[units in the index, units in
the store)`` are added. So a run interrupted after the store was updated is finished by running
it again (the documents are then skipped as duplicates and the indexes catch up).

Sparse (BM25): adding units changes ``N``, ``df`` and ``avgdl`` and so every stored weight. The
index keeps each unit's length (``dl.npy``); with it the term count of every stored entry is
recovered exactly from its weight by inverting the BM25 formula (``tf = w K / (idf (k1 + 1) - w)``
with ``K = k1 (1 - b + b dl / avgdl)``, rounded and checked by recomputing the float32 weight),
so only the new units are tokenized. The old entries and the new units' counts then go through
the builder's fill pass, giving arrays identical to a full rebuild. TF-IDF indexes cannot be
inverted where idf is 0 (terms in over half the units) and are refused (rebuild them).

Dense: new units are encoded and added. For Flat indexes the last partial chunk of the old
build is re-encoded with the new units so that the encoder sees the same batches as a full
rebuild with the same chunk and batch size: identical vectors and ids. Trained indexes (IVF, PQ)
keep their old training and HNSW keeps its graph, so they match a rebuild only approximately.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np

from drqa_ng.errors import IndexFormatError, UnsupportedError
from drqa_ng.index_io import StringArray, atomic_dir, load_array, manifest_kind
from drqa_ng.retrieval import dense as dense_mod
from drqa_ng.retrieval import sparse as sparse_mod
from drqa_ng.retrieval.encoder import TextEncoder
from drqa_ng.retrieval.scoring import bm25_doc_weights, bm25_idf
from drqa_ng.store.docstore import DocStore, UnitKey
from drqa_ng.types import Document, Passage, Unit
from indexing.dense import _chunked, unit_text
from indexing.docstore import BuildReport, append_docstore
from indexing.sparse import DEFAULT_CHUNK, DL_FILE, ChunkRef, Counted, count_pass, write_counted

log = logging.getLogger(__name__)

OLD_PIECE_ENTRIES = 4_000_000
"""Old entries re-weighted per step (bounds memory to ~100 MB whatever the index size)."""


@dataclass(frozen=True, slots=True)
class IndexUpdate:
    path: Path
    kind: str
    units_before: int
    units_added: int
    seconds: float


@dataclass(frozen=True, slots=True)
class AddReport:
    store: BuildReport
    indexes: tuple[IndexUpdate, ...]


def recover_bm25_tf(
    w: np.ndarray, idf: np.ndarray, dl: np.ndarray, avgdl: float, k1: float, b: float
) -> np.ndarray:
    """Term counts from stored BM25 weights (inverse of ``bm25_doc_weights``), checked exactly.

    ``tf = w K / (idf (k1 + 1) - w)``, ``K = k1 (1 - b + b dl / avgdl)``; the rounded counts must
    give back the stored float32 weights bit for bit, else IndexFormatError.
    """
    w64 = w.astype(np.float64)
    norm = k1 * (1.0 - b + b * dl.astype(np.float64) / (avgdl if avgdl > 0 else 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        tf = np.rint(w64 * norm / (idf * (k1 + 1.0) - w64))
    back = bm25_doc_weights(tf, idf, dl, avgdl, k1, b).astype(np.float32)
    if not (np.isfinite(tf).all() and np.array_equal(back, w) and (tf >= 1).all()):
        raise IndexFormatError("stored BM25 weights do not invert to whole term counts; rebuild the index")
    return tf.astype(np.int32)


def key_at(store: DocStore, unit: Unit, position: int) -> UnitKey | None:
    """Key of the unit at corpus ``position`` (None for 0)."""
    return store.unit_keys(unit, position)[1] if position else None


def update_sparse_index(path: Path, store: DocStore, chunk_size: int = DEFAULT_CHUNK) -> IndexUpdate:
    """Add the store's units beyond the index's to the BM25 index at ``path`` (see module docstring)."""
    t0 = time.perf_counter()
    m = sparse_mod.SparseManifest.load(path)
    unit = cast(Unit, m.unit)
    n_old, total = m.units, store.count(unit)
    if total < n_old:
        raise IndexFormatError(f"{path} holds {n_old} units, more than its doc store's {total}")
    if total == n_old:
        return IndexUpdate(path, "sparse", n_old, 0, 0.0)
    if m.scoring != "bm25" or m.k1 <= 0:
        raise UnsupportedError(f"{path}: add-docs updates BM25 indexes with k1 > 0; rebuild this one")
    if not (path / DL_FILE).is_file():
        raise IndexFormatError(f"{path} has no {DL_FILE} (built before incremental adds); rebuild it once")
    spec = m.spec
    k1, b = float(m.k1), float(m.b)
    indptr, indices, data = (load_array(path, f) for f in ("indptr.npy", "indices.npy", "data.npy"))
    dl_old = load_array(path, DL_FILE, mmap=False).astype(np.int64)
    df_old = np.diff(indptr)
    idf_old, _ = bm25_idf(df_old, n_old, m.epsilon)
    avgdl_old = float(dl_old.mean()) if n_old else 0.0
    with atomic_dir(path) as tmp:
        old, scratch = tmp / "_old", tmp / "_new"
        old.mkdir()
        scratch.mkdir()
        refs: list[ChunkRef] = []
        # Pieces of whole columns in column order: each column's old entries stay in one piece,
        # before every new unit's entries, which is the order the fill pass needs.
        nnz = int(indptr[-1])
        cuts = np.unique(np.searchsorted(indptr, np.arange(0, nnz, OLD_PIECE_ENTRIES), side="right") - 1)
        bounds = sorted({0, *map(int, cuts), spec.buckets})  # piece 0 always exists: it carries the ids
        for j, (c0, c1) in enumerate(itertools.pairwise(bounds)):
            s, e = int(indptr[c0]), int(indptr[c1])
            cols = np.repeat(np.arange(c0, c1, dtype=np.int64), np.diff(indptr[c0 : c1 + 1]))
            rows = np.asarray(indices[s:e])
            tf = recover_bm25_tf(np.asarray(data[s:e]), idf_old[cols], dl_old[rows], avgdl_old, k1, b)
            np.save(old / f"{j}.rows.npy", rows)
            np.save(old / f"{j}.cols.npy", cols)
            np.save(old / f"{j}.counts.npy", tf)
            if j == 0:
                for suffix in ("bytes", "offsets"):
                    shutil.copyfile(path / f"ids.{suffix}.npy", old / f"0.ids.{suffix}.npy")
            else:
                StringArray.write(old, f"{j}.ids", [])
            refs.append(ChunkRef(old, j, 0))
        units = store.iter_unit_range(unit, key_at(store, unit, n_old))
        new = count_pass(units, spec, m.include_title, chunk_size, 1, scratch, False)
        counted = Counted(
            (*refs, *(ChunkRef(r.folder, r.index, n_old) for r in new.chunks)),
            n_old + new.n_units,
            df_old + new.df,
            np.concatenate([dl_old, new.dl]),
        )
        del indptr, indices, data
        write_counted(
            counted,
            tmp,
            path,
            spec,
            unit=unit,
            scoring="bm25",
            k1=k1,
            b=b,
            corpus_hash=store.corpus_hash(),
            docs_path=Path(m.docs) if m.docs else None,
            include_title=m.include_title,
            t0=t0,
        )
        shutil.rmtree(old)
        shutil.rmtree(scratch)
    return IndexUpdate(path, "sparse", n_old, new.n_units, time.perf_counter() - t0)


def update_dense_index(path: Path, store: DocStore, encoder: TextEncoder | None = None) -> IndexUpdate:
    """Encode and add the store's units beyond the index's to the dense index at ``path``."""
    import faiss

    t0 = time.perf_counter()
    m = dense_mod.DenseManifest.load(path)
    unit = cast(Unit, m.unit)
    n_old, total = m.count, store.count(unit)
    if total < n_old:
        raise IndexFormatError(f"{path} holds {n_old} units, more than its doc store's {total}")
    if total == n_old:
        return IndexUpdate(path, "dense", n_old, 0, 0.0)
    rec = m.encoder
    max_length = rec.max_length
    enc = encoder or dense_mod.encoder_from_record(rec, max_length, device="cpu")
    if enc.sha256 != rec.sha256:
        raise UnsupportedError(f"{path} was built with another encoder ({rec.name}); rebuild it")
    index = faiss.read_index(str(path / dense_mod.INDEX_FILE))
    ids = StringArray.open(path, dense_mod.IDS_STEM)
    chunk, batch = m.chunk_size, m.batch_size
    flat = isinstance(faiss.downcast_index(index), faiss.IndexFlat)
    # Re-encode the old partial last chunk with the new units (same batches as a full rebuild).
    tail = (n_old // chunk) * chunk if chunk and flat else n_old
    if tail < n_old:
        index.remove_ids(faiss.IDSelectorRange(tail, n_old))
    new_ids: list[str] = []
    batches: Iterable[list[Passage]] = _chunked(
        store.iter_unit_range(unit, key_at(store, unit, tail)), chunk or 4096
    )
    for units in batches:
        vecs = enc.encode([unit_text(u) for u in units], batch_size=batch, max_length=max_length)
        index.add(np.ascontiguousarray(vecs, dtype=np.float32))
        new_ids.extend(u.id for u in units)
    with atomic_dir(path) as tmp:
        faiss.write_index(index, str(tmp / dense_mod.INDEX_FILE))
        StringArray.write(tmp, dense_mod.IDS_STEM, [*ids.take(range(tail)), *new_ids])
        replace(m, count=tail + len(new_ids), corpus_hash=store.corpus_hash()).save(tmp)
    return IndexUpdate(path, "dense", n_old, tail + len(new_ids) - n_old, time.perf_counter() - t0)


def add_documents(
    documents: Iterable[Document],
    docs: Path,
    indexes: Sequence[Path],
    *,
    encoder: TextEncoder | None = None,
    show_progress: bool = False,
) -> AddReport:
    """Append ``documents`` to the doc store ``docs``, then catch every index in ``indexes`` up."""
    report = append_docstore(documents, Path(docs), show_progress=show_progress)
    updates = []
    with DocStore.open(Path(docs)) as store:
        for path in map(Path, indexes):
            kind = manifest_kind(path)
            if kind == sparse_mod.KIND:
                updates.append(update_sparse_index(path, store))
            elif kind == dense_mod.KIND:
                updates.append(update_dense_index(path, store, encoder))
            else:
                raise UnsupportedError(f"{path}: add-docs cannot update a {kind!r} index")
            log.info("%s", updates[-1])
    return AddReport(report, tuple(updates))
