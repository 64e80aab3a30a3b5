"""Bad corpora, broken indexes, full disks and odd arguments: one line on stderr naming the file and
position, the documented exit code, never a traceback."""

from __future__ import annotations

import bz2
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import DataFormatError, IndexFormatError, NotFoundError, ResourceError
from tests.fixtures.corpus import mediawiki_xml


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("drqa-ng ")
    return lines[0]


def _truncated_bz2(path: Path, text: str) -> Path:
    data = bz2.compress(text.encode("utf-8"))
    path.write_bytes(data[: len(data) // 2])
    return path


def _wikiextractor(n: int) -> str:
    return "".join(
        f'<doc id="{i}" url="u" title="T{i}">\nT{i}\nParagraph {i} has enough words to keep.\n</doc>\n'
        for i in range(n)
    )


@pytest.fixture
def wx_folder(tmp_path: Path) -> Path:
    """A WikiExtractor folder: AA/wiki_00.bz2 good, AA/wiki_01.bz2 truncated, AB/wiki_00 good."""
    root = tmp_path / "wx"
    (root / "AA").mkdir(parents=True)
    (root / "AB").mkdir()
    (root / "AA" / "wiki_00.bz2").write_bytes(bz2.compress(_wikiextractor(3).encode()))
    _truncated_bz2(root / "AA" / "wiki_01.bz2", _wikiextractor(2000))
    (root / "AB" / "wiki_00").write_text(_wikiextractor(2).replace('id="', 'id="b'))
    return root


def test_truncated_bz2_in_a_wikiextractor_folder(run_cli, wx_folder: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: EOFError traceback ("Compressed file ended before the end-of-stream marker")."""
    out = tmp_path / "docs.sqlite"
    rc, _, err = run_cli("build-docs", str(wx_folder), str(out), "--no-progress")
    line = _one_line(err)
    assert rc == DataFormatError.exit_code and "wiki_01.bz2" in line and "truncated" in line
    assert "decompressed bytes" in line and not out.exists()


def test_skip_bad_files_skips_the_truncated_file_with_a_count(
    run_cli, wx_folder: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "docs.sqlite"
    rc, stdout, err = run_cli("build-docs", str(wx_folder), str(out), "--no-progress", "--skip-bad-files")
    assert rc == 0, err
    assert "bad files skipped:  1" in stdout and "wiki_01.bz2" in err and "Traceback" not in err
    from drqa_ng.store.docstore import DocStore

    with DocStore.open(out) as store:
        # all of wiki_00.bz2 and AB, plus what wiki_01.bz2 held before the damage
        assert store.info().documents >= 5


@pytest.mark.parametrize("kind", ["jsonl", "wikiextractor", "mediawiki"])
def test_truncated_bz2_single_file(run_cli, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    text = {
        "jsonl": "".join(f'{{"id": "{i}", "title": "T", "text": "Some text {i}."}}\n' for i in range(5000)),
        "wikiextractor": _wikiextractor(3000),
        "mediawiki": mediawiki_xml(),
    }[kind]
    if kind == "mediawiki":  # make it big enough that half of it cuts inside the page stream
        head, _, tail = text.partition("<page>")
        text = head + ("<page>" + tail.rsplit("</page>", 1)[0] + "</page>\n") * 300 + "</mediawiki>\n"
    src = _truncated_bz2(tmp_path / f"corpus.{kind}.bz2", text)
    rc, _, err = run_cli("build-docs", str(src), str(tmp_path / "o.sqlite"), "--no-progress")
    line = _one_line(err)
    assert (
        rc == DataFormatError.exit_code and src.name in line and ("truncated" in line or "malformed" in line)
    )


def test_non_utf8_jsonl_names_the_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: UnicodeDecodeError traceback."""
    src = tmp_path / "c.jsonl"
    src.write_bytes(b'{"id": "1", "text": "fine"}\n{"id": "2", "text": "caf\xe9"}\n')
    rc, _, err = run_cli("build-docs", str(src), str(tmp_path / "o.sqlite"), "--no-progress")
    line = _one_line(err)
    assert rc == DataFormatError.exit_code and "c.jsonl:2" in line and "UTF-8" in line and "0xe9" in line


@pytest.mark.parametrize("content", ["", '{"id": "1", "title": "T", "text": "  "}\n'])
def test_empty_corpus_is_an_error(run_cli, tmp_path: Path, content: str) -> None:  # type: ignore[no-untyped-def]
    """Before: exit 0 with an empty store (and then a 128 MiB empty index)."""
    src = tmp_path / "c.jsonl"
    src.write_text(content)
    out = tmp_path / "o.sqlite"
    rc, _, err = run_cli("build-docs", str(src), str(out), "--no-progress")
    assert rc == DataFormatError.exit_code and "no documents" in _one_line(err) and not out.exists()


def test_disk_full_in_build_docs(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_corpus_jsonl: Path
) -> None:  # type: ignore[no-untyped-def]
    import indexing.docstore

    def full(self: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(indexing.docstore._Writer, "flush", full)
    out = tmp_path / "o.sqlite"
    rc, _, err = run_cli("build-docs", str(tiny_corpus_jsonl), str(out), "--no-progress")
    assert rc == ResourceError.exit_code and "disk full" in _one_line(err)
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


def test_disk_full_in_build_sparse(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_docstore: Path
) -> None:  # type: ignore[no-untyped-def]
    import errno

    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    rc, _, err = run_cli(
        "build-sparse", str(tiny_docstore), str(tmp_path / "idx"), "--buckets", "1024", "--no-progress"
    )
    assert rc == ResourceError.exit_code and "disk full" in _one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_are_one_line(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_corpus_jsonl: Path
) -> None:  # type: ignore[no-untyped-def]
    import indexing.docstore

    def denied(*a: object, **k: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "o.sqlite"))

    monkeypatch.setattr(indexing.docstore.os, "replace", denied)
    rc, _, err = run_cli("build-docs", str(tiny_corpus_jsonl), str(tmp_path / "o.sqlite"), "--no-progress")
    assert rc == 1 and "Permission denied" in _one_line(err)


def _no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    def fail(*a: object, **k: object) -> None:
        raise AssertionError("the server must not start with a broken index")

    monkeypatch.setattr(uvicorn, "run", fail)
    monkeypatch.setattr("serving.server.run", fail)


def _out_of_bounds_copy(index: Path, out: Path) -> Path:
    """A copy of ``index`` whose indices.npy has the right size but every value 2e9."""
    shutil.copytree(index, out)
    indices = np.load(out / "indices.npy")
    np.save(out / "indices.npy", np.full_like(indices, 2_000_000_000))
    return out


def test_search_an_index_with_out_of_bounds_rows_is_one_line(
    run_cli, tmp_path: Path, tiny_sparse_index: Path
) -> None:  # type: ignore[no-untyped-def]
    """Before: an IndexError traceback from the first query."""
    index = _out_of_bounds_copy(tiny_sparse_index, tmp_path / "idx")
    for args in (["search", str(index), "capital of France"], ["search", "--index", str(index), "France"]):
        rc, _, err = run_cli(*args)
        assert rc == IndexFormatError.exit_code and "outside" in _one_line(err)


@pytest.mark.parametrize(
    "broken", ["missing-index", "corrupt-index", "bounds-index", "missing-docs", "corrupt-docs", "video"]
)
def test_serve_with_a_broken_index_is_one_line(  # type: ignore[no-untyped-def]
    run_cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broken: str,
    tiny_sparse_index: Path,
    tiny_docstore: Path,
    tiny_model_dir: Path,
) -> None:
    """Before: uvicorn's 44-69 line traceback of a failed startup, exit 3."""
    _no_uvicorn(monkeypatch)
    index, docs, extra = tiny_sparse_index, tiny_docstore, []
    if broken == "missing-index":
        index = tmp_path / "nope"
    elif broken == "corrupt-index":
        index = tmp_path / "idx"
        shutil.copytree(tiny_sparse_index, index)
        (index / "indptr.npy").write_bytes(b"garbage")
    elif broken == "bounds-index":  # before: serve started, then answered every request with 500
        index = _out_of_bounds_copy(tiny_sparse_index, tmp_path / "idx")
    elif broken == "missing-docs":
        docs = tmp_path / "nope.sqlite"
    elif broken == "corrupt-docs":
        docs = tmp_path / "d.sqlite"
        docs.write_bytes(b"not a database at all" * 100)
    else:
        (tmp_path / "vid").mkdir()
        (tmp_path / "vid" / "manifest.json").write_text("{broken")
        extra = ["--video-index", str(tmp_path / "vid")]
    args = ["serve", "--index", str(index), "--docs", str(docs), "--reader", str(tiny_model_dir), *extra]
    rc, _, err = run_cli(*args)
    _one_line(err)
    assert rc in (NotFoundError.exit_code, IndexFormatError.exit_code)


def test_ask_with_a_non_utf8_argument(
    run_cli, tiny_sparse_index: Path, tiny_docstore: Path, tiny_model_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """Before: a traceback. Python hands undecodable argv bytes over as lone surrogates."""
    question = b"caf\xe9?".decode("utf-8", "surrogateescape")
    args = ["--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--reader", str(tiny_model_dir)]
    rc, _, err = run_cli("ask", question, *args)
    assert rc == 2 and "UTF-8" in _one_line(err)


def test_ask_with_a_huge_n(
    run_cli, tiny_sparse_index: Path, tiny_docstore: Path, tiny_model_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """Before: tried to allocate 37 GiB."""
    args = ["--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--reader", str(tiny_model_dir)]
    rc, _, err = run_cli("ask", "What is the capital of France?", "-n", "1000000000", *args)
    assert rc == 2 and "top_n" in _one_line(err)


def test_ask_k_0_names_the_k_option(
    run_cli, tiny_sparse_index: Path, tiny_docstore: Path, tiny_model_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """Before: "n_docs must be >= 1", a name the user never typed."""
    args = ["--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--reader", str(tiny_model_dir)]
    rc, _, err = run_cli("ask", "What is the capital of France?", "-k", "0", *args)
    line = _one_line(err)
    assert rc == 2 and "-k must be >= 1" in line and "n_docs" not in line


@pytest.mark.parametrize("command", ["ask", "search"])
def test_a_huge_k_is_capped_at_the_http_maximum_with_a_message(  # type: ignore[no-untyped-def]
    run_cli, tiny_sparse_index: Path, tiny_docstore: Path, tiny_model_dir: Path, command: str
) -> None:
    """Before: ``ask -k 1000000000`` ran 43 s on a real index and ``search`` printed every unit."""
    from drqa_ng.config import MAX_K
    from serving.schemas import HARD_MAX_K

    assert MAX_K == HARD_MAX_K
    args = ["--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "-k", "1000000000"]
    if command == "ask":
        args += ["--reader", str(tiny_model_dir)]
    rc, _, err = run_cli(command, "What is the capital of France?", *args)
    line = _one_line(err)
    assert rc == 0 and f"-k 1000000000 is above the maximum {MAX_K}; using {MAX_K}" in line
    assert line.startswith(f"drqa-ng {command}: ")
