"""``build-sparse --engine ray``: count shards of the doc store as Ray tasks, merge in the driver.

Each task runs the count pass of ``indexing.sparse`` over its shard (tokenize + hash, the costly
part) and leaves its chunk files, unit lengths and a sparse ``df`` in the shard folder. The driver
then sums ``df``, concatenates the lengths and runs the same fill pass as the single-process build
over every shard's chunks in row order. The fill pass does not depend on where chunks start, so
the index is identical, array for array, to ``build_sparse_from_store`` of the same store.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from drqa_ng.errors import IndexFormatError, InputError
from drqa_ng.index_io import atomic_dir, load_array
from drqa_ng.retrieval.hashing import HashSpec
from drqa_ng.retrieval.tokenize import FilterMode
from drqa_ng.store.docstore import DocStore
from drqa_ng.types import Unit
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
from indexing.sparse import (
    DEFAULT_CHUNK,
    ChunkRef,
    Counted,
    SparseBuildReport,
    checked_spec,
    count_pass,
    write_counted,
)
from indexing.workdir import prepare_work

log = logging.getLogger(__name__)


def count_shard(
    shard: Shard,
    dest: Path,
    store_path: str,
    unit: Unit,
    spec: HashSpec,
    include_title: bool,
    chunk_size: int,
) -> int:
    """Ray task: count one shard into ``dest`` (chunk files, ``dl.npy``, ``df_cols/df_vals.npy``)."""
    if shard_done(dest) is not None:
        return shard.units
    store = DocStore.open(Path(store_path))
    with shard_output(dest) as tmp:
        units = store.iter_unit_range(unit, shard.start, shard.stop)
        counted = count_pass(units, spec, include_title, chunk_size, 1, tmp, False)
        if counted.n_units != shard.units:
            raise IndexFormatError(f"shard {shard.index}: {counted.n_units} units, planned {shard.units}")
        np.save(tmp / "dl.npy", counted.dl)
        cols = np.flatnonzero(counted.df)
        np.save(tmp / "df_cols.npy", cols)
        np.save(tmp / "df_vals.npy", counted.df[cols])
        done = {"units": counted.n_units, "chunks": len(counted.chunks)}
        (tmp / DONE_FILE).write_text(json.dumps(done))
    return counted.n_units


def merge_shards(shards: list[Shard], folders: tuple[Path, ...], buckets: int) -> Counted:
    """The shards' counts as one ``Counted`` over the whole store (chunks in row order)."""
    chunks: list[ChunkRef] = []
    df = np.zeros(buckets, dtype=np.int64)
    dls = []
    for shard, folder in zip(shards, folders, strict=True):
        done = shard_done(folder)
        if done is None or int(done["units"]) != shard.units:
            raise IndexFormatError(f"{folder} is not a finished shard of this build")
        chunks.extend(ChunkRef(folder, i, shard.first_row) for i in range(int(done["chunks"])))
        df[load_array(folder, "df_cols.npy")] += load_array(folder, "df_vals.npy")
        dls.append(load_array(folder, "dl.npy", mmap=False))
    dl = np.concatenate(dls) if dls else np.empty(0, np.int64)
    return Counted(tuple(chunks), len(dl), df, dl)


@dataclass(frozen=True, slots=True)
class RayBuildReport:
    """A Ray build: the index built, shards (resumed from an earlier run), seconds per phase."""

    build: SparseBuildReport
    shards: int
    resumed: int
    count_seconds: float
    merge_seconds: float


def work_dir_for(out: Path) -> Path:
    """The default (resumable) shard folder beside ``out``."""
    return out.parent / f".{out.name}.ray-work"


def build_sparse_ray(
    store_path: Path,
    out: Path,
    *,
    unit: str = "paragraph",
    scoring: str = "bm25",
    buckets: int = 2**24,
    ngrams: int = 2,
    k1: float = 1.5,
    b: float = 0.75,
    filter_mode: FilterMode = "any",
    chunk_size: int = DEFAULT_CHUNK,
    include_title: bool = True,
    address: str | None = None,
    num_cpus: int | None = None,
    shards: int | None = None,
    work_dir: Path | None = None,
    on_shard: Callable[[int], None] | None = None,
) -> RayBuildReport:
    """``build_sparse_from_store`` on a Ray cluster (``address`` None: a local one with ``num_cpus``).

    ``shards``: how many shard tasks (default: 2 per CPU of the cluster); each holds a whole number
    of ``chunk_size`` chunks. ``work_dir`` (default beside ``out``) must be visible to every node;
    it survives a failed run so that running again resumes, and is removed after success.
    """
    if chunk_size < 1 or (shards is not None and shards < 1):
        raise InputError("chunk size and shard count must be >= 1")
    spec = checked_spec(unit, scoring, buckets, ngrams, k1, b, filter_mode)
    t0 = time.perf_counter()
    out, store_path = Path(out), Path(store_path).resolve()
    unit_ = cast(Unit, unit)
    store = DocStore.open(store_path)
    work = Path(work_dir) if work_dir else work_dir_for(out)
    with ray_session(address, num_cpus) as ray:
        n_shards = shards or max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))
        plan = plan_shards(store, unit_, shard_size(store.count(unit_), chunk_size, n_shards))
        params = {
            "kind": "sparse-count",
            "store": str(store_path),
            "corpus_hash": store.corpus_hash(),
            "unit": unit,
            "spec": [spec.buckets, spec.ngrams, spec.filter_mode, spec.tokenizer, spec.tokenizer_version],
            "include_title": include_title,
            "chunk_size": chunk_size,
            "shard_units": plan[0].units if plan else 0,
        }
        prepare_work(work, params)
        args = (str(store_path), unit_, spec, include_title, chunk_size)
        run = run_shards(count_shard, plan, work, args, on_shard=on_shard)
    t_count = time.perf_counter() - t0
    log.info("counted %d shards (%d resumed) in %.1fs", len(plan), run.resumed, t_count)
    counted = merge_shards(plan, run.folders, spec.buckets)
    with atomic_dir(out) as tmp:
        report = write_counted(
            counted,
            tmp,
            out,
            spec,
            unit=unit,
            scoring=scoring,
            k1=k1,
            b=b,
            corpus_hash=store.corpus_hash(),
            docs_path=store_path,
            include_title=include_title,
            t0=t0,
        )
    shutil.rmtree(work, ignore_errors=True)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    build = SparseBuildReport(out, report.units, report.nnz, report.occupied_buckets, report.seconds, size)
    return RayBuildReport(build, len(plan), run.resumed, t_count, time.perf_counter() - t0 - t_count)
