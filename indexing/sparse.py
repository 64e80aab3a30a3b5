"""Build a hashed sparse index (DrQA TF-IDF or BM25) from any stream of Passages, in bounded memory.

Two passes over on-disk chunks, never a Python list of all (unit, term) triples:

1. Count: per chunk of ``chunk_size`` units, hash each unit's filtered n-grams, turn the chunk
   into unique (row, bucket, count) COO arrays with ``np.unique`` on ``row * buckets + bucket``,
   and write them to a scratch folder. Only ``df`` per bucket and the unit lengths stay in memory.
2. Fill: from ``df`` compute ``indptr`` and the idf, then stream the chunks again and scatter
   each entry's precomputed weight straight into memory-mapped ``indices``/``data`` arrays at
   ``indptr[col] + (entries of that column already written)``. Chunks are visited in row order
   and each chunk is stably sorted by column, so rows end up ascending inside every column and
   the result does not depend on the chunk size.

Peak memory is about one chunk plus a few arrays of ``buckets`` int64s (``df``, ``indptr``, the
write cursors), plus the page cache of the output files.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import cast

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.index_io import StringArray, atomic_dir, load_array
from drqa_ng.retrieval.hashing import HashSpec, text_buckets
from drqa_ng.retrieval.scoring import BM25_EPSILON, bm25_doc_weights, bm25_idf, tfidf_doc_weights, tfidf_idf
from drqa_ng.retrieval.sparse import SCORINGS, Scoring, SparseManifest
from drqa_ng.retrieval.tokenize import FilterMode
from drqa_ng.types import UNITS, Passage, Unit
from indexing.workers import worker_pool

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 50_000
DL_FILE = "dl.npy"
"""Unit lengths (int32, row order): what incremental adds need besides the CSC arrays."""


@dataclass(frozen=True, slots=True)
class SparseBuildReport:
    """What a build produced."""

    path: Path
    units: int
    nnz: int
    occupied_buckets: int
    seconds: float
    bytes_on_disk: int


def _chunks(units: Iterable[Passage], size: int) -> Iterator[list[Passage]]:
    it = iter(units)
    while chunk := list(islice(it, size)):
        yield chunk


def _count_texts(texts: list[str], spec: HashSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(local rows int32, buckets int64, counts int32, unit lengths int64) of one chunk.

    Entries are unique per (row, bucket) and sorted by bucket, then row (column-major), so the
    fill pass needs no sort. A module-level function of plain arguments so workers can run it.
    """
    per_unit = [text_buckets(t, spec) for t in texts]
    lengths = np.fromiter((len(b) for b in per_unit), dtype=np.int64, count=len(per_unit))
    if lengths.sum() == 0:
        empty = np.empty(0, np.int64)
        return empty.astype(np.int32), empty, empty.astype(np.int32), lengths
    n = len(texts)
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keys, counts = np.unique(np.concatenate(per_unit) * n + rows, return_counts=True)
    return (keys % n).astype(np.int32), keys // n, counts.astype(np.int32), lengths


CountResult = tuple[list[str], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _counted_chunks(
    units: Iterable[Passage], spec: HashSpec, include_title: bool, chunk_size: int, workers: int
) -> Iterator[CountResult]:
    """(unit ids, counts) per chunk, in input order; ``workers > 1`` counts chunks in processes.

    At most ``2 * workers`` chunks are in flight, so memory stays bounded whatever the input size.
    """

    def texts(chunk: list[Passage]) -> list[str]:
        return [f"{p.title}\n{p.text}" if include_title else p.text for p in chunk]

    if workers <= 1:
        for chunk in _chunks(units, chunk_size):
            yield [p.id for p in chunk], _count_texts(texts(chunk), spec)
        return
    with worker_pool(workers) as pool:  # workers die with this process, even on kill -9
        pending: deque[tuple[list[str], Future[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]]] = (
            deque()
        )
        for chunk in _chunks(units, chunk_size):
            pending.append(([p.id for p in chunk], pool.submit(_count_texts, texts(chunk), spec)))
            if len(pending) >= 2 * workers:
                ids, fut = pending.popleft()
                yield ids, fut.result()
        while pending:
            ids, fut = pending.popleft()
            yield ids, fut.result()


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, run lengths) of a sorted array."""
    if len(sorted_values) == 0:
        return sorted_values, np.empty(0, np.int64)
    first = np.flatnonzero(np.diff(sorted_values, prepend=sorted_values[0] - 1))
    return sorted_values[first], np.diff(first, append=len(sorted_values))


def concat_strings(sources: Iterable[tuple[Path, str]], dst: Path, stem: str) -> None:
    """Join several StringArrays (folder, stem) into one (byte buffers appended, offsets shifted)."""
    datas, offsets, base = [], [np.zeros(1, np.int64)], 0
    for src, s in sources:
        d, o = load_array(src, f"{s}.bytes.npy"), load_array(src, f"{s}.offsets.npy")
        datas.append(d)
        offsets.append(o[1:] + base)
        base += len(d)
    np.save(dst / f"{stem}.bytes.npy", np.concatenate(datas) if datas else np.empty(0, np.uint8))
    np.save(dst / f"{stem}.offsets.npy", np.concatenate(offsets))


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """One counted chunk on disk: ``folder/{index}.rows|cols|counts|ids``; rows + ``row_offset`` are global."""

    folder: Path
    index: int
    row_offset: int


@dataclass(frozen=True, slots=True)
class Counted:
    """What a count pass leaves: the chunks in row order, unit count, df per bucket, unit lengths."""

    chunks: tuple[ChunkRef, ...]
    n_units: int
    df: np.ndarray
    dl: np.ndarray


@dataclass(frozen=True, slots=True)
class _Filled:
    nnz: int
    occupied: int
    avgdl: float
    average_idf: float


def count_pass(
    units: Iterable[Passage],
    spec: HashSpec,
    include_title: bool,
    chunk_size: int,
    workers: int,
    scratch: Path,
    show_progress: bool,
    total: int | None = None,
) -> Counted:
    """Pass 1: write each chunk's column-major COO arrays and ids to ``scratch``; sum df."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    # Progress goes to stderr so it never mixes with a command's output.
    bar = tqdm(total=total, unit=" units", desc="sparse", disable=not show_progress, file=sys.stderr)
    df = np.zeros(spec.buckets, dtype=np.int64)
    lengths: list[np.ndarray] = []
    n_chunks, n_units = 0, 0
    col_dtype = np.int32 if spec.buckets <= 2**31 else np.int64
    for ids, (rows, cols, counts, lens) in _counted_chunks(units, spec, include_title, chunk_size, workers):
        np.save(scratch / f"{n_chunks}.rows.npy", rows + np.int32(n_units))
        np.save(scratch / f"{n_chunks}.cols.npy", cols.astype(col_dtype))
        np.save(scratch / f"{n_chunks}.counts.npy", counts)
        StringArray.write(scratch, f"{n_chunks}.ids", ids)
        # Entries are unique per (row, col), so entries per column is df; cols are sorted.
        ucols, sizes = _runs(cols)
        df[ucols] += sizes
        lengths.append(lens)
        n_chunks += 1
        n_units += len(ids)
        bar.update(len(ids))
        log.info("sparse build: %s units, %.0fs", f"{n_units:,}", time.perf_counter() - t0)
    bar.close()
    dl = np.concatenate(lengths) if lengths else np.empty(0, np.int64)
    return Counted(tuple(ChunkRef(scratch, i, 0) for i in range(n_chunks)), n_units, df, dl)


def _fill_pass(counted: Counted, out: Path, scoring: str, k1: float, b: float) -> _Filled:
    """Pass 2: write ``indptr`` and scatter every chunk's weights into mmapped ``indices``/``data``."""
    n_units, df, dl = counted.n_units, counted.df, counted.dl
    avgdl = float(dl.mean()) if n_units else 0.0
    indptr = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    nnz = int(indptr[-1])
    average_idf = 0.0
    if scoring == "bm25":
        idf, average_idf = bm25_idf(df, n_units, BM25_EPSILON)
    else:
        idf = tfidf_idf(df, n_units)
    occupied = int(np.count_nonzero(df))
    np.save(out / "indptr.npy", indptr)
    indices = np.lib.format.open_memmap(out / "indices.npy", mode="w+", dtype=np.int32, shape=(nnz,))
    data = np.lib.format.open_memmap(out / "data.npy", mode="w+", dtype=np.float32, shape=(nnz,))
    cursor = indptr[:-1].copy()
    del indptr
    for ref in counted.chunks:
        rows = load_array(ref.folder, f"{ref.index}.rows.npy", mmap=False)
        if ref.row_offset:
            rows = rows + np.int32(ref.row_offset)
        cols = load_array(ref.folder, f"{ref.index}.cols.npy", mmap=False)
        tf = load_array(ref.folder, f"{ref.index}.counts.npy", mmap=False)
        if scoring == "bm25":
            w = bm25_doc_weights(tf, idf[cols], dl[rows], avgdl, k1, b)
        else:
            w = tfidf_doc_weights(tf, idf[cols])
        # Chunk entries are sorted by (col, row): entry j of a column's run in this chunk goes
        # to cursor[col] + j, after that column's entries from earlier chunks.
        ucols, sizes = _runs(cols)
        rank = np.arange(len(cols)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        pos = cursor[cols] + rank
        indices[pos] = rows
        data[pos] = w
        cursor[ucols] += sizes
    indices.flush()
    data.flush()
    del indices, data
    concat_strings(((ref.folder, f"{ref.index}.ids") for ref in counted.chunks), out, "ids")
    # Unit lengths let `drqa-ng add-docs` recompute BM25 weights without re-reading the corpus.
    np.save(out / DL_FILE, dl.astype(np.int32))
    return _Filled(nnz, occupied, avgdl, average_idf)


def checked_spec(
    unit: str, scoring: str, buckets: int, ngrams: int, k1: float, b: float, filter_mode: FilterMode
) -> HashSpec:
    """The hashing spec of a sparse build, after an InputError for any setting out of range."""
    if scoring not in SCORINGS:
        raise InputError(f"unknown scoring {scoring!r}: use one of {', '.join(SCORINGS)}")
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")
    if k1 < 0 or not 0 <= b <= 1:
        raise InputError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
    try:
        return HashSpec(buckets=buckets, ngrams=ngrams, filter_mode=filter_mode)
    except ValueError as e:
        raise InputError(str(e)) from e


def build_sparse_index(
    units: Iterable[Passage],
    out: Path,
    *,
    unit: str,
    scoring: str = "bm25",
    buckets: int = 2**24,
    ngrams: int = 2,
    k1: float = 1.5,
    b: float = 0.75,
    corpus_hash: str = "",
    show_progress: bool = True,
    filter_mode: FilterMode = "any",
    chunk_size: int = DEFAULT_CHUNK,
    docs_path: Path | None = None,
    include_title: bool = True,
    workers: int = 1,
    total: int | None = None,
) -> SparseBuildReport:
    """Index ``units`` (any iterable of Passages, streamed once) into the folder ``out``.

    ``scoring`` picks the weights stored ("bm25" or "tfidf"); ``docs_path`` is recorded in the
    manifest so ``drqa-ng search`` can show titles and text. ``include_title`` indexes each
    unit's title with its text (a paragraph rarely repeats its article's name, and the name is
    what questions ask about). ``workers > 1`` tokenizes and hashes chunks in that many processes
    (the result is identical). ``total`` (the number of units, when known) sizes the progress bar.
    The folder appears atomically.
    """
    if chunk_size < 1:
        raise InputError("chunk_size must be >= 1")
    spec = checked_spec(unit, scoring, buckets, ngrams, k1, b, filter_mode)
    t0 = time.perf_counter()
    out = Path(out)
    with atomic_dir(out) as tmp:
        scratch = tmp / "_chunks"
        scratch.mkdir()
        counted = count_pass(units, spec, include_title, chunk_size, workers, scratch, show_progress, total)
        report = write_counted(
            counted,
            tmp,
            out,
            spec,
            unit=unit,
            scoring=scoring,
            k1=k1,
            b=b,
            corpus_hash=corpus_hash,
            docs_path=docs_path,
            include_title=include_title,
            t0=t0,
        )
        shutil.rmtree(scratch)
    log.info("sparse index %s: %d units, %d entries, %.1fs", out, report.units, report.nnz, report.seconds)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    return SparseBuildReport(out, report.units, report.nnz, report.occupied_buckets, report.seconds, size)


def write_counted(
    counted: Counted,
    tmp: Path,
    out: Path,
    spec: HashSpec,
    *,
    unit: str,
    scoring: str,
    k1: float,
    b: float,
    corpus_hash: str,
    docs_path: Path | None,
    include_title: bool,
    t0: float,
) -> SparseBuildReport:
    """Fill pass + manifest: turn counted chunks into the index arrays in ``tmp`` (the folder of ``out``)."""
    filled = _fill_pass(counted, tmp, scoring, k1, b)
    n_units, nnz, occupied = counted.n_units, filled.nnz, filled.occupied
    seconds = time.perf_counter() - t0
    SparseManifest(
        unit=unit,
        spec=spec,
        scoring=cast(Scoring, scoring),
        k1=k1,
        b=b,
        include_title=include_title,
        units=n_units,
        nnz=nnz,
        occupied_buckets=occupied,
        avgdl=filled.avgdl,
        average_idf=filled.average_idf,
        build_seconds=round(seconds, 3),
        epsilon=BM25_EPSILON,
        corpus_hash=corpus_hash,
        docs=str(Path(docs_path).resolve()) if docs_path else None,
    ).save(tmp)
    return SparseBuildReport(out, n_units, nnz, occupied, seconds, 0)


def build_sparse_from_store(
    store_path: Path,
    out: Path,
    *,
    unit: str = "paragraph",
    scoring: str = "bm25",
    buckets: int = 2**24,
    ngrams: int = 2,
    k1: float = 1.5,
    b: float = 0.75,
    show_progress: bool = True,
    filter_mode: FilterMode = "any",
    chunk_size: int = DEFAULT_CHUNK,
    include_title: bool = True,
    workers: int = 1,
) -> SparseBuildReport:
    """Index the ``unit``s of a doc store (H1's ``DocStore``); records its path and corpus hash."""
    from drqa_ng.store.docstore import DocStore  # the store module is optional for the core builder

    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")
    store = DocStore.open(Path(store_path))
    return build_sparse_index(
        store.iter_units(cast(Unit, unit)),
        out,
        unit=unit,
        scoring=scoring,
        buckets=buckets,
        ngrams=ngrams,
        k1=k1,
        b=b,
        corpus_hash=store.corpus_hash(),
        show_progress=show_progress,
        filter_mode=filter_mode,
        chunk_size=chunk_size,
        docs_path=Path(store_path),
        include_title=include_title,
        workers=workers,
        total=store.count(cast(Unit, unit)),
    )
