"""``--engine ray`` builds on a local 2-CPU Ray cluster: same index as the local build, retries, resume."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drqa_ng.index_io import read_manifest
from indexing.ray_engine import DONE_FILE, Shard, run_shards, shard_output
from indexing.sparse import build_sparse_from_store

pytestmark = pytest.mark.slow


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    return {f.name: np.load(f, allow_pickle=False) for f in sorted(folder.glob("*.npy"))}


def assert_same_arrays(a: Path, b: Path) -> None:
    x, y = _arrays(a), _arrays(b)
    assert sorted(x) == sorted(y)
    for name in x:
        assert x[name].dtype == y[name].dtype, name
        np.testing.assert_array_equal(x[name], y[name], err_msg=name)


def test_sparse_ray_equals_local_build(ray_cluster: Any, tiny_docstore: Path, tmp_path: Path) -> None:
    from indexing.sparse_ray import build_sparse_ray, work_dir_for

    local = build_sparse_from_store(
        tiny_docstore, tmp_path / "local", buckets=2**16, chunk_size=2, show_progress=False
    )
    ray_ = build_sparse_ray(tiny_docstore, tmp_path / "ray", buckets=2**16, chunk_size=2, shards=3).build
    assert ray_.units == local.units > 6 and ray_.nnz == local.nnz
    assert_same_arrays(tmp_path / "local", tmp_path / "ray")
    ml, mr = read_manifest(tmp_path / "local"), read_manifest(tmp_path / "ray")
    for key in ("params", "counts", "avgdl", "average_idf", "corpus_hash", "docs", "unit"):
        assert ml[key] == mr[key], key
    assert not work_dir_for(tmp_path / "ray").exists()  # shard outputs are removed after the merge


def test_killed_driver_resumes_from_finished_shards(
    ray_cluster: Any, tiny_docstore: Path, tmp_path: Path
) -> None:
    from indexing.sparse_ray import build_sparse_ray, work_dir_for

    out = tmp_path / "ray"

    def die(i: int) -> None:
        raise KeyboardInterrupt  # the driver stops after its first finished shard

    with pytest.raises(KeyboardInterrupt):
        build_sparse_ray(tiny_docstore, out, buckets=2**16, chunk_size=2, shards=4, on_shard=die)
    work = work_dir_for(out)
    done_before = len(list(work.glob(f"shard-*/{DONE_FILE}")))
    assert done_before >= 1 and not out.exists()
    computed: list[int] = []
    build_sparse_ray(tiny_docstore, out, buckets=2**16, chunk_size=2, shards=4, on_shard=computed.append)
    assert len(computed) == 4 - done_before  # finished shards were not counted again
    build_sparse_from_store(
        tiny_docstore, tmp_path / "local", buckets=2**16, chunk_size=2, show_progress=False
    )
    assert_same_arrays(tmp_path / "local", out)


def die_on_first_attempt(shard: Shard, dest: Path, marker_dir: str) -> int:
    """A task whose worker process is killed the first time it runs each shard."""
    marker = Path(marker_dir) / f"attempt-{shard.index}"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)  # like an OOM kill: no exception, the worker process is gone
    with shard_output(dest) as tmp:
        (tmp / DONE_FILE).write_text(json.dumps({"units": shard.units}))
    return shard.units


def test_killed_worker_shard_is_retried(ray_cluster: Any, tmp_path: Path) -> None:
    shards = [Shard(i, None, None, i, 1) for i in range(2)]
    work = tmp_path / "work"
    work.mkdir()
    run = run_shards(die_on_first_attempt, shards, work, (str(tmp_path),), max_retries=2)
    assert run.computed == (0, 1)
    assert all((f / DONE_FILE).is_file() for f in run.folders)
    assert sorted(p.name for p in tmp_path.glob("attempt-*")) == ["attempt-0", "attempt-1"]


def test_dense_ray_same_ids_and_vectors(ray_cluster: Any, tiny_docstore: Path, tmp_path: Path) -> None:
    import faiss

    from drqa_ng.index_io import StringArray
    from drqa_ng.retrieval.encoder import Encoder
    from indexing.dense import build_dense_index
    from indexing.dense_ray import build_dense_ray

    enc = Encoder.load(device="cpu", backend="torch", threads=1)
    same = {"chunk_size": 4, "max_length": 128, "query_max_length": 48, "seed": 7}
    build_dense_index(tiny_docstore, tmp_path / "local", encoder=enc, **same)  # type: ignore[arg-type]
    res = build_dense_ray(tiny_docstore, tmp_path / "ray", backend="torch", shards=3, **same)  # type: ignore[arg-type]
    assert res.chunks_encoded == res.chunks
    a, b = (faiss.read_index(str(tmp_path / d / "index.faiss")) for d in ("local", "ray"))
    assert a.ntotal == b.ntotal == res.count
    assert list(StringArray.open(tmp_path / "local", "ids")) == list(
        StringArray.open(tmp_path / "ray", "ids")
    )
    va, vb = a.reconstruct_n(0, a.ntotal), b.reconstruct_n(0, b.ntotal)
    np.testing.assert_array_equal(va, vb)
    ml, mr = read_manifest(tmp_path / "local"), read_manifest(tmp_path / "ray")
    assert ml["encoder"] == mr["encoder"] and ml["factory"] == mr["factory"]
    # one tail for both engines: the Ray build records the query length and seed too (it lacked them)
    assert mr["encoder"]["query_max_length"] == 48 and mr["train_seed"] == ml["train_seed"] == 7
    drop = {"faiss_seconds"}
    assert {k: v for k, v in ml.items() if k not in drop} == {k: v for k, v in mr.items() if k not in drop}


def slow_after_first(shard: Shard, dest: Path) -> int:
    """Shard 0 finishes at once; the others take a while, then write their folder."""
    import time

    if shard.index:
        time.sleep(1.5)
    with shard_output(dest) as tmp:
        (tmp / DONE_FILE).write_text(json.dumps({"units": shard.units}))
    return shard.units


def test_interrupted_run_leaves_no_task_writing(ray_cluster: Any, tmp_path: Path) -> None:
    import time

    shards = [Shard(i, None, None, i, 1) for i in range(3)]
    work = tmp_path / "work"
    work.mkdir()

    def die(i: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_shards(slow_after_first, shards, work, (), on_shard=die)
    done = sorted(p.parent.name for p in work.glob(f"*/{DONE_FILE}"))
    time.sleep(3)  # a cancelled task that was still running would have finished by now
    assert sorted(p.parent.name for p in work.glob(f"*/{DONE_FILE}")) == done
