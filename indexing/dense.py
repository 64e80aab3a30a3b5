"""Build a dense (FAISS) index from a doc store's units, resumably.

Encoding is the slow part (CPU: hundreds of passages a second), so it runs in chunks of
``chunk_size`` units; each chunk's embeddings (``emb-NNNNNN.npy``) and ids (``ids-NNNNNN.txt``) are
saved in a work folder beside the output (``.<out>.dense-work``). A killed build run again with the
same settings skips the chunks already saved. The FAISS part then trains on a seeded sample (IVF/PQ
factories), adds the chunks one at a time (memory stays near one chunk plus the index) and the
index folder is written atomically (``drqa_ng.index_io.atomic_dir``); the work folder is removed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.index_io import StringArray, atomic_dir
from drqa_ng.retrieval.dense import IDS_STEM, INDEX_FILE, DenseManifest, EncoderRecord
from drqa_ng.retrieval.encoder import Encoder, TextEncoder
from drqa_ng.types import UNITS, Passage, Unit
from indexing.workdir import prepare_work

log = logging.getLogger(__name__)

TEXT_FORMAT = "title\\ntext"
"""How a unit is turned into encoder input (recorded in the manifest): title, newline, text."""
MIN_POINTS_PER_CENTROID = 39
"""faiss warns below 39 training points per k-means centroid; we shrink nlist to stay above it."""


@dataclass(frozen=True, slots=True)
class DenseBuildResult:
    path: Path
    count: int
    dim: int
    factory: str
    chunks: int
    chunks_encoded: int
    """Chunks encoded in this run (the rest were resumed from the work folder)."""
    seconds: float


def unit_text(p: Passage) -> str:
    """Encoder input for a unit: its title on the first line, then its text."""
    return f"{p.title}\n{p.text}" if p.title else p.text


def adapt_factory(factory: str, n: int) -> str:
    """The factory string usable for ``n`` vectors: IVF nlist lowered to n // 39 (min 1) with a warning.

    Raises InputError when a PQ/SQ factory cannot be trained on so few vectors (PQ with b bits needs
    at least 2^b of them).
    """
    m = re.search(r"IVF(\d+)", factory)
    if m:
        nlist = int(m.group(1))
        if n < MIN_POINTS_PER_CENTROID * nlist:
            new = max(1, min(nlist, n // MIN_POINTS_PER_CENTROID))
            if new != nlist:
                log.warning("only %d vectors: IVF nlist reduced from %d to %d", n, nlist, new)
                factory = factory[: m.start(1)] + str(new) + factory[m.end(1) :]
    pq = re.search(r"PQ(\d+)(?:x(\d+))?", factory)
    if pq:
        nbits = int(pq.group(2) or 8)
        if n < 2**nbits:
            raise InputError(
                f"{factory} needs at least {2**nbits} vectors to train its PQ codebooks; got {n}"
            )
    return factory


def new_faiss_index(factory: str, dim: int) -> Any:
    """An empty inner-product FAISS index; a factory string faiss cannot parse is an InputError."""
    import faiss

    try:
        return faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        raise InputError(f"bad FAISS factory string {factory!r}: {str(e).splitlines()[0]}") from e


def build_faiss(
    factory: str,
    dim: int,
    chunks: Sequence[Callable[[], np.ndarray]],
    n: int,
    seed: int = 0,
    train_size: int | None = None,
) -> Any:
    """Train (when needed) and fill a FAISS inner-product index from chunk loaders, in order.

    ``chunks`` are callables returning (rows, dim) float32 arrays (e.g. mmap'd .npy files), so only
    one chunk plus the training sample is in memory at a time. The training sample is drawn with
    ``seed``; its size defaults to max(64·nlist, 9984) capped at n.
    """

    index = new_faiss_index(factory, dim)
    if not index.is_trained:
        m = re.search(r"IVF(\d+)", factory)
        nlist = int(m.group(1)) if m else 1
        size = min(n, train_size or max(64 * nlist, 256 * MIN_POINTS_PER_CENTROID))
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(n, size=size, replace=False))
        sample = np.empty((size, dim), dtype=np.float32)
        filled, offset = 0, 0
        for load in chunks:
            arr = load()
            lo, hi = np.searchsorted(pick, [offset, offset + len(arr)])
            sample[filled : filled + hi - lo] = arr[pick[lo:hi] - offset]
            filled += hi - lo
            offset += len(arr)
        log.info("training %s on %d vectors", factory, size)
        index.train(sample)
        del sample
    for load in chunks:
        index.add(np.ascontiguousarray(load(), dtype=np.float32))
    return index


def work_dir_for(out: Path) -> Path:
    """The resumable work folder beside ``out``."""
    return out.parent / f".{out.name}.dense-work"


def _chunked(items: Iterable[Passage], size: int) -> Iterator[list[Passage]]:
    batch: list[Passage] = []
    for p in items:
        batch.append(p)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _save_chunk(emb_path: Path, ids_path: Path, vecs: np.ndarray, ids: list[str]) -> None:
    """Write both chunk files through temp names, so a kill never leaves a half-written chunk."""
    tmp = emb_path.with_name(f".{emb_path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        np.save(f, vecs)
    os.replace(tmp, emb_path)
    tmp = ids_path.with_name(f".{ids_path.name}.tmp-{os.getpid()}")
    tmp.write_text("\n".join(ids), encoding="utf-8")
    os.replace(tmp, ids_path)


def build_dense_from_units(
    units: Iterable[Passage],
    out: Path,
    encoder: TextEncoder,
    unit: str,
    factory: str = "Flat",
    total: int | None = None,
    corpus_hash: str = "",
    docs_path: str = "",
    batch_size: int = 64,
    chunk_size: int = 4096,
    max_length: int = 256,
    query_max_length: int = 64,
    progress: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    seed: int = 0,
) -> DenseBuildResult:
    """Encode ``units`` in chunks (resuming saved ones) and write the index folder ``out``.

    ``on_chunk(i)`` is called after chunk ``i`` is saved (progress hooks; tests interrupt there).
    """
    from tqdm import tqdm

    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}; choose from {', '.join(UNITS)}")
    if chunk_size < 1 or batch_size < 1:
        raise InputError("chunk size and batch size must be >= 1")
    new_faiss_index(factory, encoder.dim)  # fail on a bad factory before hours of encoding
    t0 = time.perf_counter()
    out = Path(out)
    work = work_dir_for(out)
    params = {
        "encoder_sha256": encoder.sha256,
        "backend": encoder.backend,
        "unit": unit,
        "corpus_hash": corpus_hash,
        "chunk_size": chunk_size,
        "max_length": max_length,
        "text_format": TEXT_FORMAT,
    }
    prepare_work(work, params)

    n_chunks = encoded = count = 0
    bar = tqdm(total=total, unit="unit", desc="encoding", disable=not progress)
    for i, batch in enumerate(_chunked(units, chunk_size)):
        emb_path, ids_path = work / f"emb-{i:06d}.npy", work / f"ids-{i:06d}.txt"
        ids = [p.id for p in batch]
        if any("\n" in x for x in ids):
            raise InputError("unit ids must not contain newlines")
        done = False
        if emb_path.is_file() and ids_path.is_file():
            # a saved chunk is reused only when it holds exactly these ids
            done = ids_path.read_text(encoding="utf-8").split("\n") == ids
            if done:
                done = np.load(emb_path, mmap_mode="r").shape == (len(batch), encoder.dim)
        if not done:
            vecs = encoder.encode([unit_text(p) for p in batch], batch_size=batch_size, max_length=max_length)
            _save_chunk(emb_path, ids_path, vecs, ids)
            encoded += 1
        n_chunks += 1
        count += len(batch)
        bar.update(len(batch))
        if on_chunk is not None:
            on_chunk(i)
    bar.close()
    if count == 0:
        raise InputError(f"no {unit} units to index")
    log.info(
        "%d units in %d chunks (%d encoded now, %d resumed)", count, n_chunks, encoded, n_chunks - encoded
    )

    chunks = [(work / f"emb-{j:06d}.npy", work / f"ids-{j:06d}.txt") for j in range(n_chunks)]
    return finish_dense_build(
        out,
        work,
        encoder,
        chunks,
        count,
        unit=unit,
        factory=factory,
        corpus_hash=corpus_hash,
        docs_path=docs_path,
        max_length=max_length,
        query_max_length=query_max_length,
        seed=seed,
        chunk_size=chunk_size,
        batch_size=batch_size,
        encoded=encoded,
        t0=t0,
    )


def finish_dense_build(
    out: Path,
    work: Path,
    encoder: TextEncoder,
    chunks: Sequence[tuple[Path, Path]],
    count: int,
    *,
    unit: str,
    factory: str,
    corpus_hash: str,
    docs_path: str,
    max_length: int,
    query_max_length: int,
    seed: int,
    chunk_size: int,
    batch_size: int,
    encoded: int,
    t0: float,
) -> DenseBuildResult:
    """The one tail of every dense build (local or Ray): FAISS from the encoded ``chunks`` (pairs of
    ``emb-*.npy`` and ``ids-*.txt``, in row order), the folder ``out`` with its manifest, the work
    folder removed. ``encoded``: chunks encoded by this run; ``t0``: when the build started."""
    loaders = [(lambda e=e: np.load(e, mmap_mode="r")) for e, _ in chunks]

    def all_ids() -> Iterator[str]:
        for _, ids in chunks:
            yield from ids.read_text(encoding="utf-8").split("\n")

    real_factory = write_dense_index(
        out,
        encoder,
        loaders,
        all_ids(),
        count,
        unit=unit,
        factory=factory,
        corpus_hash=corpus_hash,
        docs_path=docs_path,
        max_length=max_length,
        query_max_length=query_max_length,
        seed=seed,
        chunk_size=chunk_size,
        batch_size=batch_size,
    )
    shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - t0
    log.info("dense index %s: %d vectors, %s, %.1f s", out, count, real_factory, seconds)
    return DenseBuildResult(out, count, encoder.dim, real_factory, len(chunks), encoded, seconds)


def write_dense_index(
    out: Path,
    encoder: TextEncoder,
    loaders: Sequence[Callable[[], np.ndarray]],
    ids: Iterable[str],
    count: int,
    *,
    unit: str,
    factory: str,
    corpus_hash: str,
    docs_path: str,
    max_length: int,
    query_max_length: int = 64,
    seed: int = 0,
    chunk_size: int = 4096,
    batch_size: int = 64,
) -> str:
    """Train/fill the FAISS index from chunk ``loaders`` (in row order) and write the folder ``out``
    atomically with its ``ids`` and manifest; returns the factory actually used."""
    import faiss

    real_factory = adapt_factory(factory, count)
    t1 = time.perf_counter()
    index = build_faiss(real_factory, encoder.dim, loaders, count, seed=seed)
    faiss_seconds = time.perf_counter() - t1
    with atomic_dir(out) as tmp:
        faiss.write_index(index, str(tmp / INDEX_FILE))
        StringArray.write(tmp, IDS_STEM, ids)
        DenseManifest(
            unit=unit,
            count=count,
            dim=encoder.dim,
            factory=real_factory,
            requested_factory=factory,
            metric="inner_product",
            normalized=True,
            encoder=EncoderRecord(
                name=encoder.name,
                sha256=encoder.sha256,
                backend=encoder.backend,
                max_length=max_length,
                query_max_length=query_max_length,
                text_format=TEXT_FORMAT,
            ),
            corpus_hash=corpus_hash,
            docs=docs_path,
            faiss_version=faiss.__version__,
            train_seed=seed,
            faiss_seconds=round(faiss_seconds, 3),
            # the encoder's batches depend on these: add-docs re-encodes the last partial chunk with them
            chunk_size=chunk_size,
            batch_size=batch_size,
        ).save(tmp)
    return real_factory


def build_dense_index(
    docs: Path,
    out: Path,
    unit: str = "paragraph",
    factory: str = "Flat",
    encoder: TextEncoder | None = None,
    encoder_name: str | None = None,
    batch_size: int = 64,
    chunk_size: int = 4096,
    max_length: int = 256,
    progress: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    *,
    query_max_length: int = 64,
    seed: int = 0,
) -> DenseBuildResult:
    """Build a dense index over the units of the doc store at ``docs`` (see ``build_dense_from_units``).

    ``encoder`` (already loaded) wins over ``encoder_name`` (a folder or cached hub name; None = default).
    """
    from drqa_ng.store.docstore import DocStore

    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}; choose from {', '.join(UNITS)}")
    unit_ = cast(Unit, unit)
    store = DocStore.open(Path(docs))
    enc = encoder or Encoder.load(encoder_name, max_length=max_length)
    return build_dense_from_units(
        store.iter_units(unit_),
        Path(out),
        enc,
        unit,
        factory=factory,
        total=store.count(unit_),
        corpus_hash=store.corpus_hash(),
        docs_path=str(Path(docs).resolve()),
        batch_size=batch_size,
        chunk_size=chunk_size,
        max_length=max_length,
        query_max_length=query_max_length,
        seed=seed,
        progress=progress,
        on_chunk=on_chunk,
    )


STATIC_BATCH, STATIC_CHUNK, STATIC_MAX_LENGTH = 1024, 65536, 512
"""Static builds use big batches and chunks (a chunk encodes in seconds; each chunk is a file to
resume from) and long passages (a static model has no position limit)."""


def build_static_index(
    docs: Path,
    out: Path,
    unit: str = "paragraph",
    model: str | None = None,
    factory: str = "Flat",
    *,
    batch_size: int = STATIC_BATCH,
    chunk_size: int = STATIC_CHUNK,
    max_length: int = STATIC_MAX_LENGTH,
    progress: bool = False,
) -> DenseBuildResult:
    """``build_dense_index`` with a static (Model2Vec) encoder: ``model`` is a static model folder, or
    None for the default one distilled from the shipped MiniLM (``drqa_ng.retrieval.static``). The
    same index format; minutes per million units on a CPU instead of hours."""
    from drqa_ng.retrieval.static import StaticEncoder

    enc = StaticEncoder.load(model, max_length=max_length)
    return build_dense_index(
        docs,
        out,
        unit,
        factory,
        encoder=enc,
        batch_size=batch_size,
        chunk_size=chunk_size,
        max_length=max_length,
        progress=progress,
    )
