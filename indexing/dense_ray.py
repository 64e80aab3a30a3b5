"""``build-dense --engine ray``: encode shards of the doc store as Ray tasks, build FAISS in the driver.

Shards hold a whole number of ``chunk_size`` chunks and each task encodes its shard chunk by chunk
exactly as the single-process build does (same chunks, same batches), so the merged index has the
same ids in the same order and the same vectors (bit for bit with the same runtime and thread
count; ONNX Runtime's float kernels may round differently with other thread counts).

Where the cluster has GPUs, each task asks Ray for one (``num_gpus=1``, so Ray places it on a GPU
node) and encodes with torch on it; otherwise it runs the int8 ONNX encoder on ``threads`` CPUs.
A task loads the encoder once per shard (a second or two, against minutes of encoding per shard).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np

from drqa_ng.errors import IndexFormatError, InputError
from drqa_ng.retrieval.encoder import Backend, Encoder
from drqa_ng.store.docstore import DocStore
from drqa_ng.types import UNITS, Unit
from indexing.dense import DenseBuildResult, _chunked, finish_dense_build, new_faiss_index, unit_text
from indexing.ray_engine import (
    DONE_FILE,
    Shard,
    plan_shards,
    ray_session,
    run_shards,
    shard_done,
    shard_output,
    shard_size,
)
from indexing.workdir import prepare_work

log = logging.getLogger(__name__)


def encode_shard(
    shard: Shard,
    dest: Path,
    store_path: str,
    unit: Unit,
    encoder_name: str | None,
    backend: str,
    threads: int | None,
    use_gpu: bool,
    batch_size: int,
    chunk_size: int,
    max_length: int,
) -> int:
    """Ray task: encode one shard into ``dest`` (``emb-NNNNNN.npy`` + ``ids-NNNNNN.txt`` per chunk)."""
    if shard_done(dest) is not None:
        return shard.units
    store = DocStore.open(Path(store_path))
    enc = Encoder.load(
        encoder_name,
        device="cuda" if use_gpu else "cpu",
        backend=cast(Backend, backend),
        max_length=max_length,
        threads=threads,
    )
    n = chunks = 0
    with shard_output(dest) as tmp:
        for i, batch in enumerate(_chunked(store.iter_unit_range(unit, shard.start, shard.stop), chunk_size)):
            vecs = enc.encode([unit_text(p) for p in batch], batch_size=batch_size, max_length=max_length)
            np.save(tmp / f"emb-{i:06d}.npy", vecs)
            (tmp / f"ids-{i:06d}.txt").write_text("\n".join(p.id for p in batch), encoding="utf-8")
            n += len(batch)
            chunks += 1
        if n != shard.units:
            raise IndexFormatError(f"shard {shard.index}: {n} units, planned {shard.units}")
        done = {"units": n, "chunks": chunks, "sha256": enc.sha256, "backend": enc.backend}
        (tmp / DONE_FILE).write_text(json.dumps(done))
    return n


def work_dir_for(out: Path) -> Path:
    return out.parent / f".{out.name}.dense-ray-work"


def build_dense_ray(
    docs: Path,
    out: Path,
    *,
    unit: str = "paragraph",
    factory: str = "Flat",
    encoder_name: str | None = None,
    backend: str = "auto",
    threads: int | None = 1,
    batch_size: int = 64,
    chunk_size: int = 4096,
    max_length: int = 256,
    query_max_length: int = 64,
    seed: int = 0,
    address: str | None = None,
    num_cpus: int | None = None,
    shards: int | None = None,
    work_dir: Path | None = None,
    on_shard: Callable[[int], None] | None = None,
) -> DenseBuildResult:
    """``build_dense_index`` on a Ray cluster; see the module docstring.

    ``threads``: CPU threads per encoding task (and the CPUs Ray reserves for it). ``shards``
    defaults to 2 per task slot, at least one per 16 chunks (a lost shard costs little).
    """
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}; choose from {', '.join(UNITS)}")
    if chunk_size < 1 or batch_size < 1 or (threads is not None and threads < 1):
        raise InputError("chunk size, batch size and threads must be >= 1")
    t0 = time.perf_counter()
    out, docs = Path(out), Path(docs).resolve()
    unit_ = cast(Unit, unit)
    store = DocStore.open(docs)
    total = store.count(unit_)
    if total == 0:
        raise InputError(f"no {unit} units to index")
    work = Path(work_dir) if work_dir else work_dir_for(out)
    with ray_session(address, num_cpus) as ray:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        use_gpu = gpus > 0
        real_backend = "torch" if use_gpu and backend == "auto" else backend
        # The driver's encoder gives the manifest's record (name, sha256, dim) and checks the factory.
        enc = Encoder.load(
            encoder_name, device="cpu", backend=cast(Backend, real_backend), max_length=max_length
        )
        new_faiss_index(factory, enc.dim)
        slots = gpus if use_gpu else max(1, int(ray.cluster_resources().get("CPU", 1)) // (threads or 1))
        n_shards = shards or max(2 * slots, -(-total // (16 * chunk_size)))
        plan = plan_shards(store, unit_, shard_size(total, chunk_size, n_shards))
        params = {
            "kind": "dense-encode",
            "store": str(docs),
            "corpus_hash": store.corpus_hash(),
            "unit": unit,
            "encoder_sha256": enc.sha256,
            "backend": enc.backend,
            "chunk_size": chunk_size,
            "batch_size": batch_size,
            "max_length": max_length,
            "shard_units": plan[0].units,
        }
        prepare_work(work, params)
        args = (
            str(docs),
            unit_,
            encoder_name,
            enc.backend,
            threads,
            use_gpu,
            batch_size,
            chunk_size,
            max_length,
        )
        run = run_shards(
            encode_shard,
            plan,
            work,
            args,
            num_cpus=0 if use_gpu else (threads or 1),
            num_gpus=1 if use_gpu else 0,
            on_shard=on_shard,
        )
    refs: list[tuple[Path, int]] = []
    encoded = 0
    for shard, folder in zip(plan, run.folders, strict=True):
        done = shard_done(folder)
        if done is None or int(done["units"]) != shard.units:
            raise IndexFormatError(f"{folder} is not a finished shard of this build")
        refs.extend((folder, j) for j in range(int(done["chunks"])))
        encoded += int(done["chunks"]) if shard.index in run.computed else 0
    log.info("%d units from %d shards (%d resumed)", total, len(plan), run.resumed)
    chunks = [(f / f"emb-{j:06d}.npy", f / f"ids-{j:06d}.txt") for f, j in refs]
    return finish_dense_build(
        out,
        work,
        enc,
        chunks,
        total,
        unit=unit,
        factory=factory,
        corpus_hash=store.corpus_hash(),
        docs_path=str(docs),
        max_length=max_length,
        query_max_length=query_max_length,
        seed=seed,
        chunk_size=chunk_size,
        batch_size=batch_size,
        encoded=encoded,
        t0=t0,
    )
