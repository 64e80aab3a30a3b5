"""kill -9 at several points of build-docs, build-sparse, build-dense and build-video.

Each build runs in a child process that SIGKILLs itself at a chosen point (``os.replace`` is wrapped
to do so just before a given rename; build-docs is also killed mid-load). After the kill the index
must open (the old one, or the new one when the build had finished), and nothing may be left behind
once it has been opened or built again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from drqa_ng.index_io import read_manifest

REPO = Path(__file__).resolve().parents[2]

# Kill points of an index folder build (``atomic_dir``): the finished temp folder about to be
# marked complete (= killed while building), the old index about to be set aside, the new one about
# to be renamed into place (the moment when, before, there was no index at all).
POINTS = {
    "building": "os.path.basename(src).startswith(f'.{OUT.name}.tmp-')",
    "old-aside": "os.path.basename(dst).startswith(f'.{OUT.name}.old-')",
    "into-place": "os.fspath(dst) == os.fspath(OUT)",
}
# What the index holds after the kill at each point: the old one, or the finished new one.
SURVIVOR = {"building": "old", "old-aside": "new", "into-place": "new"}


def _killed_build(out: Path, kill_if: str, build: str, tmp_path: Path) -> None:
    """Run ``build`` in a child that SIGKILLs itself at the first ``os.replace(src, dst)`` where
    ``kill_if`` holds; assert it died of SIGKILL."""
    script = textwrap.dedent(
        """
        import os, signal
        from pathlib import Path
        OUT = Path({out!r})
        _replace = os.replace
        def replace(src, dst, *a, **k):
            if {kill_if}:
                os.kill(os.getpid(), signal.SIGKILL)
            return _replace(src, dst, *a, **k)
        os.replace = replace
        """
    ).format(out=str(out), kill_if=kill_if) + textwrap.dedent(build)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def _only(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


# -- build-docs (one file, one rename) -----------------------------------------------------------


@pytest.mark.parametrize("point", ["loading", "into-place"])
def test_kill_build_docs(tmp_path: Path, tiny_corpus_jsonl: Path, point: str) -> None:
    from drqa_ng.store.docstore import DocStore
    from drqa_ng.types import Document
    from indexing.docstore import build_docstore

    out = tmp_path / "out" / "docs.sqlite"
    out.parent.mkdir()
    build_docstore([Document("old", "Old", "The old store.")], out, show_progress=False)
    build = f"""
        import indexing.docstore as d
        from drqa_ng.cli.main import main
        if {point == "loading"!r}:
            d._Writer.flush = lambda self: os.kill(os.getpid(), signal.SIGKILL)
        main(["build-docs", {str(tiny_corpus_jsonl)!r}, {str(out)!r}, "--no-progress"])
    """
    _killed_build(out, POINTS["into-place"], build, tmp_path)
    with DocStore.open(out) as store:
        assert store.info().documents == 1  # the old store, intact
    assert any(p.name.startswith(".docs.sqlite.tmp-") for p in out.parent.iterdir())  # the killed temp
    build_docstore([Document("new", "New", "The new store.")], out, show_progress=False)
    _only(out.parent, "docs.sqlite")


# -- build-sparse --------------------------------------------------------------------------------


@pytest.mark.parametrize("point", POINTS)
def test_kill_build_sparse(tmp_path: Path, tiny_docstore: Path, point: str) -> None:
    from drqa_ng.retrieval.sparse import SparseIndex
    from indexing.sparse import build_sparse_from_store

    out = tmp_path / "out" / "idx"
    build_sparse_from_store(tiny_docstore, out, buckets=512, show_progress=False)
    build = f"""
        from drqa_ng.cli.main import main
        main(["build-sparse", {str(tiny_docstore)!r}, {str(out)!r}, "--buckets", "1024", "--no-progress"])
    """
    _killed_build(out, POINTS[point], build, tmp_path)
    buckets = read_manifest(out)["params"]["buckets"]  # opening recovers
    assert buckets == {"old": 512, "new": 1024}[SURVIVOR[point]]
    assert SparseIndex.open(out).search(["capital of France"], 1)[0]
    _only(out.parent, "idx")


# -- build-dense ---------------------------------------------------------------------------------


# The swap is the same code for every index folder (all three points are tested on build-sparse);
# the slower builders are killed before and during the swap.
SLOW_POINTS = ["building", "into-place"]


@pytest.mark.slow
@pytest.mark.parametrize("point", SLOW_POINTS)
def test_kill_build_dense(tmp_path: Path, tiny_docstore: Path, tiny_dense_index: Path, point: str) -> None:
    from indexing.dense import work_dir_for

    out = tmp_path / "out" / "dense"
    out.parent.mkdir()
    shutil.copytree(tiny_dense_index, out)  # the old index: paragraphs
    build = f"""
        from drqa_ng.retrieval.encoder import Encoder
        from indexing.dense import build_dense_index
        build_dense_index(Path({str(tiny_docstore)!r}), OUT, unit="doc", encoder=Encoder.load(device="cpu"))
    """
    _killed_build(out, POINTS[point], build, tmp_path)
    assert read_manifest(out)["unit"] == {"old": "paragraph", "new": "doc"}[SURVIVOR[point]]
    leftovers = {p.name for p in out.parent.iterdir()} - {"dense", work_dir_for(out).name}
    assert not leftovers  # (the work folder of resumable embeddings is kept on purpose)


# -- build-video ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("point", SLOW_POINTS)
def test_kill_build_video(tmp_path: Path, video_dir: Path, video_index_dir: Path, point: str) -> None:
    from drqa_ng.video.index import VideoIndex

    out = tmp_path / "out" / "vindex"
    out.parent.mkdir()
    shutil.copytree(video_index_dir, out)  # the old index: fps 1
    build = f"""
        from indexing.video import build_video_index
        from tests.fixtures.video import CountingRecognizer
        build_video_index([Path({str(video_dir / "alpha.avi")!r})], OUT, fps=0.5, min_seg=3.0, max_seg=6.0,
                          overlap=1.0, teacher=CountingRecognizer(), label_fraction=0.5, epochs=1)
    """
    _killed_build(out, POINTS[point], build, tmp_path)
    assert read_manifest(out)["params"]["fps"] == {"old": 1.0, "new": 0.5}[SURVIVOR[point]]
    assert len(VideoIndex.open(out).videos) == {"old": 3, "new": 1}[SURVIVOR[point]]
    _only(out.parent, "vindex")


def test_the_harness_really_kills(tmp_path: Path) -> None:
    """The kill hook fires only at its rename (guards the tests above against passing vacuously)."""
    out = tmp_path / "x"
    _killed_build(out, "os.fspath(dst) == os.fspath(OUT)", "os.replace(OUT.with_name('y'), OUT)\n", tmp_path)
    assert not out.exists()
