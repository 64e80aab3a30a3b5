"""``serve --replicas N``: settings travel to uvicorn's worker processes; 2 replicas answer requests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from drqa_ng.errors import InputError
from drqa_ng.pipeline import PipelineSettings
from serving.replicas import app_from_env, run_replicas, settings_from_json, settings_to_json
from serving.settings import ServerSettings


def test_settings_round_trip_through_json() -> None:
    s = ServerSettings(
        pipeline=PipelineSettings(
            indexes=(Path("/a/sparse"), Path("/b/dense")), docs=Path("/a/d.sqlite"), k=7
        ),
        api_key="k",
        max_batch=3,
        routers=("x.y",),
        extra=(("video_index", "/v"),),
    )
    assert settings_from_json(settings_to_json(s)) == s
    assert settings_from_json(settings_to_json(ServerSettings())) == ServerSettings()


def test_bad_replica_counts_and_missing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError):
        run_replicas(ServerSettings(), "127.0.0.1", 0, 0, "warning")
    monkeypatch.delenv("DRQA_NG_SERVE_SETTINGS", raising=False)
    with pytest.raises(InputError, match="replicas"):
        app_from_env()


@pytest.mark.slow
def test_two_replicas_serve_search(tiny_sparse_index: Path, tiny_docstore: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "drqa_ng.cli.main", "serve", "--replicas", "2", "--port", str(port)]
    cmd += ["--index", str(tiny_sparse_index), "--docs", str(tiny_docstore)]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.5)
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/search", json={"query": "capital of France", "k": 3}, timeout=60
        )
        assert r.status_code == 200, r.text
        assert "france" in r.text
        workers = [p for p in _children(proc.pid)]
        assert len(workers) >= 2  # uvicorn's worker processes
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _children(pid: int) -> list[int]:
    import psutil

    return [
        c.pid
        for c in psutil.Process(pid).children(recursive=True)
        if "multiprocessing" in " ".join(c.cmdline())
    ]
