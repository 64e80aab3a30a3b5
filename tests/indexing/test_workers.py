"""Build workers die with their parent: ``kill -9`` of a build leaves no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 30.0  # a bound on the wait, not a speed check: before, the workers lived for minutes

# A sparse count pass with 2 worker processes: it prints its pid once the workers have answered,
# then hangs (holding the pool open, as a build busy elsewhere would) until it is killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from drqa_ng.retrieval.hashing import HashSpec
    from drqa_ng.types import Passage
    from indexing.sparse import _counted_chunks

    units = (Passage(f"d{i}", f"d{i}", "T", f"word{i} other words here", 0, 10) for i in range(40))
    chunks = _counted_chunks(units, HashSpec(buckets=2**10), False, 4, 2)
    next(chunks)
    print("ready", flush=True)
    time.sleep(600)
    """
)


def _wait_gone(pids: list[int], limit_s: float) -> list[int]:
    """The pids still alive (not zombies) after at most ``limit_s`` seconds of polling."""
    deadline = time.monotonic() + limit_s
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    return alive


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_of_a_build_leaves_no_worker_processes() -> None:
    """Before: 2 workers (150-165 MB each) and a resource tracker stayed alive for minutes."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr
        descendants = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert len(descendants) >= 2  # the two workers (and the resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        left = _wait_gone(descendants, GONE_WITHIN_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    for pid in left:  # clean up what the old code left behind before failing
        psutil.Process(pid).kill()
    assert left == [], f"{len(left)} worker processes outlived their killed build"


def test_die_with_parent_exits_when_started_under_a_parent_already_gone() -> None:
    code = "from indexing.workers import die_with_parent; die_with_parent(1); print('kept')"
    r = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "kept" not in r.stdout
