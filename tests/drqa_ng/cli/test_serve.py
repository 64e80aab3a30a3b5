"""`drqa-ng serve`: what it tells the operator (URL, ready line, access log), without binding a port."""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.cli.serve import server_url


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    seen: dict[str, object] = {}

    def fake_run(app: object, **kw: object) -> None:
        seen["app"] = app
        seen.update(kw)

    monkeypatch.setattr("uvicorn.run", fake_run)
    return seen


def test_serve_logs_its_url_and_keeps_uvicorn_ready_and_access_lines(  # type: ignore[no-untyped-def]
    run_cli, fake_uvicorn: dict[str, object], tiny_sparse_index: Path, tiny_docstore: Path
) -> None:
    args = ["serve", "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--port", "8123"]
    rc, out, err = run_cli(*args)
    assert rc == 0 and out == ""
    assert "http://127.0.0.1:8123/" in err and "http://127.0.0.1:8123/docs" in err
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

    def fake_run(app: object, **kw: object) -> None:
        seen["app"] = app
        seen.update(kw)

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.setenv("H5_TEST_KEY", "k")
    rc, _, err = run_cli(
        "serve", *pipe_args, "--port", "8123", "--api-key-env", "H5_TEST_KEY", "--set", "a=b=c"
    )
    assert rc == 0, err
    assert seen["app"].state.settings.get("a") == "b=c"  # type: ignore[attr-defined]
    assert seen["port"] == 8123 and seen["host"] == "127.0.0.1"
    assert seen["app"].state.settings.api_key == "k"  # type: ignore[attr-defined]
    monkeypatch.delenv("H5_TEST_KEY")
    rc, _, err = run_cli("serve", *pipe_args, "--api-key-env", "H5_TEST_KEY")
    assert rc == 2 and "H5_TEST_KEY" in err
