"""`drqa-ng serve`: what it tells the operator (URL, ready line, access log), binding a loopback port
but never serving on it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from drqa_ng.cli.serve import server_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fake_run(seen: dict[str, object]):  # type: ignore[no-untyped-def]
    def fake_run(app: object, sock: socket.socket, **kw: object) -> None:
        seen["app"] = app
        seen["host"], seen["port"] = sock.getsockname()[:2]
        seen.update(kw)

    return fake_run


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    seen: dict[str, object] = {}
    monkeypatch.setattr("serving.server.run", _fake_run(seen))
    return seen


def test_serve_logs_its_url_and_keeps_uvicorn_ready_and_access_lines(  # type: ignore[no-untyped-def]
    run_cli, fake_uvicorn: dict[str, object], tiny_sparse_index: Path, tiny_docstore: Path
) -> None:
    port = free_port()
    args = ["serve", "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--port", str(port)]
    rc, out, err = run_cli(*args)
    assert rc == 0 and out == ""
    assert f"http://127.0.0.1:{port}/" in err and f"http://127.0.0.1:{port}/docs" in err
    # info level: uvicorn prints "Application startup complete." once models are loaded, its URL,
    # and one access-log line per request
    assert fake_uvicorn["log_level"] == "info" and fake_uvicorn["access_log"] is True
    rc, _, err = run_cli(*args, "-q")
    assert rc == 0 and fake_uvicorn["log_level"] == "warning" and fake_uvicorn["access_log"] is False


def test_server_url_for_wildcard_and_ipv6_binds() -> None:
    assert server_url("0.0.0.0", 80) == "http://127.0.0.1:80/"
    assert server_url("::", 8000) == "http://[::1]:8000/"
    assert server_url("::1", 8000) == "http://[::1]:8000/"
    assert server_url("example.org", 8000) == "http://example.org:8000/"


def test_serve_builds_app_from_flags(run_cli, pipe_args, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}
    monkeypatch.setattr("serving.server.run", _fake_run(seen))
    monkeypatch.setenv("H5_TEST_KEY", "k")
    port = free_port()
    rc, _, err = run_cli(
        "serve", *pipe_args, "--port", str(port), "--api-key-env", "H5_TEST_KEY", "--set", "a=b=c"
    )
    assert rc == 0, err
    assert seen["app"].state.settings.get("a") == "b=c"  # type: ignore[attr-defined]
    assert seen["port"] == port and seen["host"] == "127.0.0.1"
    assert seen["app"].state.settings.api_key == "k"  # type: ignore[attr-defined]
    monkeypatch.delenv("H5_TEST_KEY")
    rc, _, err = run_cli("serve", *pipe_args, "--api-key-env", "H5_TEST_KEY")
    assert rc == 2 and "H5_TEST_KEY" in err


def test_serve_on_a_busy_port_fails_before_saying_serving(  # type: ignore[no-untyped-def]
    run_cli, fake_uvicorn: dict[str, object], tiny_sparse_index: Path, tiny_docstore: Path
) -> None:
    """Before: "serving http://..." was printed, then uvicorn failed with the exit code of a bad corpus."""
    from drqa_ng.errors import InputError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        args = ["serve", "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--port", str(port)]
        rc, out, err = run_cli(*args)
    lines = err.strip().splitlines()
    assert out == ""
    assert rc == InputError.exit_code and "app" not in fake_uvicorn
    assert len(lines) == 1 and "serving" not in err and f"--port {port}" in lines[0]
    assert "already in use" in lines[0] and lines[0].startswith("drqa-ng serve: error:")


def test_serve_load_defaults_are_the_server_defaults() -> None:
    from drqa_ng.cli.main import build_parser
    from serving.routers.video import DEFAULT_DEADLINE_S, DEFAULT_MAX_FRAMES
    from serving.settings import ServerSettings

    args = build_parser().parse_args(["serve"])
    s = ServerSettings()
    assert (args.deadline, args.request_timeout, args.body_timeout, args.max_queue) == (
        s.deadline_s,
        s.request_timeout_s,
        s.body_timeout_s,
        s.max_queue,
    )
    assert (args.video_deadline, args.video_max_frames) == (DEFAULT_DEADLINE_S, DEFAULT_MAX_FRAMES)
