"""Quickstart: download (served by a local http.server on 127.0.0.1), resume, build, config.json, ask."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from drqa_ng.config import read_home_config
from drqa_ng.errors import DataFormatError, NotFoundError
from indexing.quickstart import URL_ENV, download


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files; honours ``Range: bytes=N-`` (206) unless the class says not to; records headers."""

    ranges_seen: list[str] = []  # noqa: RUF012 (test-only recorder)
    honour_range = True
    truncate_to: int | None = None

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        rng = self.headers.get("Range")
        if rng:
            type(self).ranges_seen.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng and self.honour_range else 0
        if start >= len(data) and rng and self.honour_range:
            self.send_error(416)
            return
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.truncate_to is not None:
            body = body[: self.truncate_to]
        self.wfile.write(body)


@pytest.fixture
def served(tiny_mediawiki_dump: Path, tmp_path: Path) -> Iterator[tuple[str, type[RangeHandler], Path]]:
    root = tmp_path / "www"
    root.mkdir()
    src = tiny_mediawiki_dump.with_name("dump.xml.bz2")
    shutil.copyfile(src, root / "simplewiki-test.xml.bz2")
    handler = type("H", (RangeHandler,), {"ranges_seen": [], "honour_range": True, "truncate_to": None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simplewiki-test.xml.bz2", handler, src
    finally:
        server.shutdown()
        server.server_close()


def test_download_resumes_partial_file(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, handler, src = served
    dest = tmp_path / "dl" / "dump.xml.bz2"
    dest.parent.mkdir()
    full = src.read_bytes()
    Path(str(dest) + ".part").write_bytes(full[:100])
    assert download(url, dest, progress=False) == dest
    assert dest.read_bytes() == full
    assert handler.ranges_seen == ["bytes=100-"]
    assert not Path(str(dest) + ".part").exists()
    assert download(url, dest, progress=False) == dest  # complete file: nothing fetched again
    assert handler.ranges_seen == ["bytes=100-"]


def test_download_restarts_when_range_is_ignored(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, handler, src = served
    handler.honour_range = False
    dest = tmp_path / "dump.xml.bz2"
    Path(str(dest) + ".part").write_bytes(b"garbage that must not survive")
    download(url, dest, progress=False)
    assert dest.read_bytes() == src.read_bytes()


def test_download_errors(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, handler, _ = served
    with pytest.raises(NotFoundError, match="404"):
        download(url + ".missing", tmp_path / "x", progress=False)
    handler.truncate_to = 50
    with pytest.raises(DataFormatError, match="incomplete"):
        download(url, tmp_path / "y", progress=False)
    assert not (tmp_path / "y").exists() and (tmp_path / "y.part").stat().st_size == 50


def test_quickstart_downloads_builds_and_ask_works(
    run_cli, served, tmp_path: Path, tiny_model_dir: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = served
    monkeypatch.setenv(URL_ENV, url)  # the default URL is overridable by environment
    home = tmp_path / "home"
    rc, out, err = run_cli("quickstart", "--home", str(home), "--no-dense", "-q")
    assert rc == 0, err
    assert (home / "downloads" / "simplewiki-test.xml.bz2").is_file()
    cfg = json.loads((home / "config.json").read_text())
    assert cfg["docs"] == "docs.sqlite" and cfg["indexes"] == ["sparse"] and cfg["counts"]["documents"] > 0
    assert set(cfg["seconds"]) == {"docs", "sparse", "vocab", "articles"}
    assert cfg["vocabulary"] == "vocab" and cfg["articles"] == "articles"
    assert "documents" in out and "no dense index" in out
    rc, out, err = run_cli(
        "ask", "--home", str(home), "--reader", str(tiny_model_dir), "--json", "capital of France"
    )
    assert rc == 0, err
    assert json.loads(out)["answers"]
    # gibberish: the home's word list lacks its words, so it is abstained on, unread
    rc, out, err = run_cli(
        "ask", "--home", str(home), "--reader", str(tiny_model_dir), "--json", "Paris asdf qwer zxcv?"
    )
    assert rc == 0, err
    got = json.loads(out)
    assert got["abstained"] and not got["answers"]


@pytest.mark.slow
def test_quickstart_from_corpus_with_limited_dense(
    run_cli, tiny_corpus_jsonl: Path, tiny_encoder_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    rc, out, err = run_cli(
        "quickstart", "--corpus", str(tiny_corpus_jsonl), "--home", str(home), "--dense",
        "--dense-limit", "7", "--encoder", str(tiny_encoder_dir), "--json", "-q",
    )  # fmt: skip
    assert rc == 0, err
    report = json.loads(out)
    assert report["dense_units"] == 7 and report["units"] > 7
    assert (report["duplicates"], report["empty"]) == (1, 1)  # the tiny JSONL's two bad records
    cfg = read_home_config(home)
    assert [p.name for p in cfg.indexes] == ["sparse", "dense"]
    rc, out, err = run_cli(
        "ask", "--home", str(home), "--reader", str(tiny_model_dir), "--json", "Who created Python?"
    )
    assert rc == 0, err
    assert any(a["doc_id"] == "python_language" for a in json.loads(out)["answers"])


def test_quickstart_bad_corpus(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli(
        "quickstart", "--corpus", str(tmp_path / "nope"), "--home", str(tmp_path / "h"), "--no-dense"
    )
    assert rc == 5 and "not found" in err


def test_quickstart_checks_its_corpus_before_anything_loads(run_cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before: "[1/3] doc store" was printed and torch imported (7.6 s) before "not found"."""
    import drqa_ng.cli.quickstart as cli

    def too_late(*args: object) -> object:
        raise AssertionError("the dense plan (torch) ran before the corpus was checked")

    monkeypatch.setattr(cli, "quickstart_dense_plan", too_late)
    rc, _, err = run_cli("quickstart", "--corpus", str(tmp_path / "nope"), "--home", str(tmp_path / "h"))
    assert rc == 5 and "not found" in err and "[1/" not in err, err
    assert not (tmp_path / "h").exists()  # nothing written either
    rc, _, err = run_cli(
        "quickstart", "--corpus", str(tmp_path), "--dense-limit", "0", "--home", str(tmp_path / "h")
    )
    assert rc == 2 and "dense-limit" in err, err


def test_quickstart_prints_steps_and_skip_counts_and_search_finds_its_home(
    run_cli, tiny_corpus_jsonl: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    monkeypatch.setenv("DRQA_NG_HOME", str(home))  # no --home: the home comes from the environment
    rc, out, err = run_cli("quickstart", "--corpus", str(tiny_corpus_jsonl), "--no-dense")
    assert rc == 0, err
    assert "[1/3] doc store" in err and "[2/3] sparse index (paragraph units)" in err
    assert "[3/3] article index (doc units)" in err
    assert "WARNING" not in err  # the skipped records are summarised, not warned about one by one
    assert "skipped 1 duplicate-id and 1 empty documents" in out
    cfg = json.loads((home / "config.json").read_text())
    assert cfg["counts"]["skipped_duplicates"] == 1 and cfg["counts"]["skipped_empty"] == 1
    assert 'now try: drqa-ng ask "your question"' in out
    rc, out, err = run_cli("search", "When was the Eiffel Tower completed?", "-k", "1")
    assert rc == 0, err
    assert out.split("\t")[2] == "eiffel_tower#p1"
    rc, _, err = run_cli("quickstart", "--corpus", str(tiny_corpus_jsonl), "--no-dense", "-v", "-q")
    assert rc == 0 and "skipping document" in err  # -v lists them


@pytest.mark.slow
def test_quickstart_on_cpu_answers_with_static_then_switches_to_the_background_dense(
    run_cli,
    tiny_corpus_jsonl: Path,
    tiny_static_dir: Path,
    tiny_encoder_dir: Path,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    import contextlib

    import psutil
    import torch

    from drqa_ng.retrieval.dense import DenseManifest
    from indexing.background import read_progress
    from indexing.quickstart import HOME_FACTORY

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the CPU plan, also on a GPU machine
    home = tmp_path / "home"
    rc, out, err = run_cli(
        "quickstart", "--corpus", str(tiny_corpus_jsonl), "--home", str(home),
        "--static-model", str(tiny_static_dir), "--no-background",
    )  # fmt: skip
    assert rc == 0, err
    assert "[4/4] static index (paragraph units)" in err and "static vectors" in out
    cfg = read_home_config(home)
    assert [p.name for p in cfg.indexes] == ["sparse", "static"] and cfg.fusion == "interp"
    assert cfg.fusion_weight == 0.5  # a model of the user's: the untuned grid's weight, not the tuned one's
    assert DenseManifest.load(home / "static").factory == HOME_FACTORY == "SQ8"  # a quarter of Flat's bytes
    assert read_progress(home) is None  # --no-background: nothing started
    ask = ("ask", "--home", str(home), "--reader", str(tiny_model_dir), "--json", "Who created Python?")
    rc, out, err = run_cli(*ask)
    assert rc == 0 and json.loads(out)["answers"], err

    rc, out, err = run_cli("status", "--home", str(home), "--start", "--encoder", str(tiny_encoder_dir))
    assert rc == 0 and "started (pid " in out, err
    pid = int(out.split("pid ")[1].rstrip(")\n"))
    with contextlib.suppress(psutil.NoSuchProcess):  # NoSuchProcess: already finished
        psutil.Process(pid).wait(timeout=600)  # a generous bound for a loaded machine
    prog = read_progress(home)
    assert prog is not None and prog.state == "done", (home / "dense-build.log").read_text()
    assert [p.name for p in read_home_config(home).indexes] == ["sparse", "dense"]
    rc, out, err = run_cli(*ask)
    assert rc == 0 and json.loads(out)["answers"], err


def test_static_fusion_weight_follows_the_static_model(tiny_short_docstore: Path, tmp_path: Path) -> None:
    from indexing.dense import build_static_index
    from indexing.quickstart import STATIC_FUSION_WEIGHT, TUNED_STATIC_FUSION_WEIGHT, static_fusion_weight
    from tests.drqa_ng.tuning.test_encoder import _tiny_static

    build_static_index(tiny_short_docstore, tmp_path / "shipped")  # None: the shipped tuned model
    assert static_fusion_weight(tmp_path / "shipped") == TUNED_STATIC_FUSION_WEIGHT == 0.8
    build_static_index(tiny_short_docstore, tmp_path / "own", model=str(_tiny_static(tmp_path / "model")))
    assert static_fusion_weight(tmp_path / "own") == STATIC_FUSION_WEIGHT == 0.5
