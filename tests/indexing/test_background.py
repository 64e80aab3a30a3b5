"""The data home's MiniLM index built in the background: progress file, resume, config switch, status."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drqa_ng.config import read_home_config
from indexing.background import (
    PROGRESS_FILE,
    BuildProgress,
    _Meter,
    build_home_dense,
    read_progress,
    start_background_dense,
    stop_background_dense,
    write_progress,
)
from indexing.dense import work_dir_for
from indexing.quickstart import DENSE_FUSION_WEIGHT, DENSE_NAME, HOME_FACTORY, SPARSE_NAME, build_home


@pytest.fixture
def sparse_home(tiny_corpus_jsonl: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    build_home([tiny_corpus_jsonl], home, progress=False)
    return home


def test_build_reports_progress_and_switches_the_home(
    sparse_home: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drqa_ng.pipeline import _upgrading, open_retrievers

    seen: list[BuildProgress] = []
    orig = _Meter.__call__

    def spy(self: _Meter, i: int) -> None:
        orig(self, i)
        got = read_progress(sparse_home)
        assert got is not None
        seen.append(got)

    monkeypatch.setattr(_Meter, "__call__", spy)
    # a retriever opened from the home before the build finishes (as ask/serve open it)
    cfg = read_home_config(sparse_home)
    live = _upgrading(open_retrievers(cfg.indexes), sparse_home)
    assert type(live.current).__name__ == "SparseIndex"  # type: ignore[attr-defined]

    done = build_home_dense(sparse_home, str(tiny_encoder_dir), chunk_size=8)
    total = done.total
    assert done.state == "done" and done.done == total > 8
    assert [p.done for p in seen] == [min(8 * (i + 1), total) for i in range(len(seen))]
    assert all(p.state == "running" for p in seen[:-1]) and seen[-1].state == "finishing"
    # each chunk reports the process's memory (after freed memory went back to the OS)
    assert all(
        p.rss_mb is not None and p.peak_rss_mb is not None and 0 < p.rss_mb <= p.peak_rss_mb for p in seen
    )
    assert read_progress(sparse_home) == done
    cfg = read_home_config(sparse_home)
    assert [p.name for p in cfg.indexes] == [SPARSE_NAME, DENSE_NAME]
    assert (cfg.fusion, cfg.fusion_weight) == ("interp", DENSE_FUSION_WEIGHT)
    assert json.loads((sparse_home / "config.json").read_text())["counts"]["dense_units"] == total
    from drqa_ng.retrieval.dense import DenseManifest

    assert DenseManifest.load(sparse_home / DENSE_NAME).factory == HOME_FACTORY == "SQ8"  # a quarter of Flat
    # the retriever opened before switches on its next search
    (hits,) = live.search(["Who created Python?"], 3)
    assert type(live.current).__name__ == "HybridRetriever" and hits  # type: ignore[attr-defined]


def test_a_stopped_build_says_so_and_resumes_from_its_chunks(
    sparse_home: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orig = _Meter.__call__

    def stop_after_two(self: _Meter, i: int) -> None:
        orig(self, i)
        if i == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(_Meter, "__call__", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        build_home_dense(sparse_home, str(tiny_encoder_dir), chunk_size=8)
    prog = read_progress(sparse_home)
    assert prog is not None and (prog.state, prog.done) == ("stopped", 16)
    work = work_dir_for(sparse_home / "dense")
    assert sorted(p.name for p in work.glob("emb-*.npy")) == ["emb-000000.npy", "emb-000001.npy"]
    assert [p.name for p in read_home_config(sparse_home).indexes] == ["sparse"]  # not switched

    monkeypatch.setattr(_Meter, "__call__", orig)
    from drqa_ng.retrieval.encoder import Encoder

    encoded: list[int] = []
    real_encode = Encoder.encode

    def counting(self: Encoder, texts: list[str], *a: object, **k: object) -> object:
        encoded.append(len(texts))
        return real_encode(self, texts, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(Encoder, "encode", counting)
    done = build_home_dense(sparse_home, str(tiny_encoder_dir), chunk_size=8)
    assert done.state == "done" and not work.exists()
    assert sum(encoded) == done.total - 16  # the two saved chunks were not encoded again


def test_rerun_keeps_a_complete_index(
    sparse_home: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_home_dense(sparse_home, str(tiny_encoder_dir), chunk_size=64)

    def no_encoding(*a: object, **k: object) -> None:
        raise AssertionError("the complete index was encoded again")

    monkeypatch.setattr("indexing.dense.build_dense_from_units", no_encoding)
    again = build_home_dense(sparse_home, str(tiny_encoder_dir), chunk_size=64)
    assert (again.state, again.done) == ("done", first.done)


def test_status_shows_progress_and_a_dead_build(run_cli, sparse_home: Path) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run_cli("status", "--home", str(sparse_home))
    assert rc == 0, err
    assert "retrieval: sparse" in out and "dense build: none started" in out
    now = time.time()
    write_progress(sparse_home, BuildProgress("running", 2**22 + 7, 4096, 10000, 120.0, 49.0, now, now))
    rc, out, err = run_cli("status", "--home", str(sparse_home))
    assert rc == 0, err
    # no process holds the lock: the build is reported stopped, with how to resume
    assert "dense build: stopped, 4,096 / 10,000 units (41.0 %)" in out and "not running" in out
    assert "--start" in out and "memory" not in out  # an old progress file has no memory figures
    write_progress(
        sparse_home,
        BuildProgress("running", 2**22 + 7, 4096, 10000, 120.0, 49.0, now, now, None, 402.4, 455.0),
    )
    rc, out, err = run_cli("status", "--home", str(sparse_home))
    assert rc == 0 and "memory 402 MB (peak 455 MB)" in out, out
    rc, out, err = run_cli("status", "--home", str(sparse_home), "--json")
    got = json.loads(out)["dense_build"]
    assert (got["state"], got["alive"], got["eta_s"]) == ("stopped", False, None)
    assert not stop_background_dense(sparse_home)
    (sparse_home / PROGRESS_FILE).write_text("{not json")
    assert read_progress(sparse_home) is None


@pytest.mark.slow
def test_detached_build_finishes_and_status_says_done(
    run_cli, sparse_home: Path, tiny_encoder_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    import psutil

    pid = start_background_dense(sparse_home, str(tiny_encoder_dir))
    try:
        assert start_background_dense(sparse_home, str(tiny_encoder_dir)) == pid or not psutil.pid_exists(pid)
        proc = psutil.Process(pid)
        proc.wait(timeout=600)  # a generous bound for a loaded CI machine, not a timing assertion
    finally:
        if psutil.pid_exists(pid):
            psutil.Process(pid).kill()
    prog = read_progress(sparse_home)
    assert prog is not None and prog.state == "done", (sparse_home / "dense-build.log").read_text()
    rc, out, err = run_cli("status", "--home", str(sparse_home))
    assert rc == 0 and "dense build: done" in out, err
    assert "dense build: done" in out and "retrieval: sparse + dense (interp" in out
    rc, out, _ = run_cli("status", "--home", str(sparse_home), "--start")
    assert rc == 0 and "already complete" in out
