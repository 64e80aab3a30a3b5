from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drqa_ng.errors import InputError
from drqa_ng.store.docstore import DocStore
from drqa_ng.types import Document
from indexing.docstore import MAX_SKIP_WARNINGS, build_docstore
from indexing.ingest import read_corpus


def _docs(n: int, prefix: str = "d") -> list[Document]:
    return [
        Document(f"{prefix}{i}", f"Title {i}", f"Paragraph one of doc {i} is here.\n\nSecond one.")
        for i in range(n)
    ]


def test_build_reports_duplicates_and_empty(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    docs = [*_docs(3), Document("d1", "Dup", "again"), Document("e", "E", " \n\n "), Document("f", "F", "")]
    with caplog.at_level(logging.WARNING, logger="indexing.docstore"):
        report = build_docstore(docs, tmp_path / "s.sqlite", show_progress=False)
    assert (report.documents, report.duplicates, report.empty) == (3, 1, 2)
    assert "duplicate id" in caplog.text and "empty text" in caplog.text
    assert report.paragraphs == 3 and report.passages == 3
    with DocStore.open(tmp_path / "s.sqlite") as s:
        assert s.corpus_hash() == report.corpus_hash
        d1 = s.get_document("d1")
        assert d1 is not None and d1.title == "Title 1"


def test_skip_warnings_are_capped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    docs = [Document(f"e{i}", "E", "") for i in range(50)] + [Document("ok", "OK", "Some text.")]
    with caplog.at_level(logging.WARNING, logger="indexing.docstore"):
        report = build_docstore(docs, tmp_path / "s.sqlite", show_progress=False)
    assert report.empty == 50
    assert caplog.text.count("empty text") == MAX_SKIP_WARNINGS + 1  # + the "further ..." line


def test_stale_temp_of_a_dead_build_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "s.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(proc.stdout)  # this process has exited
    stale = tmp_path / f".s.sqlite.tmp-{dead_pid}-123"
    stale.write_bytes(b"half-written")
    live = tmp_path / f".s.sqlite.tmp-{os.getpid()}-1"  # a concurrent build of ours: left alone
    live.write_bytes(b"in progress")
    build_docstore(_docs(1), out, show_progress=False)
    assert not stale.exists() and live.exists()


def test_duplicates_across_batches_are_found(tmp_path: Path) -> None:
    docs = [*_docs(1200), *_docs(5)]  # the repeats arrive in a later insert batch
    report = build_docstore(docs, tmp_path / "s.sqlite", show_progress=False)
    assert (report.documents, report.duplicates) == (1200, 5)


def test_corpus_hash_definition_and_stability(tmp_path: Path) -> None:
    docs = _docs(4)
    h = hashlib.sha256()
    for d in docs:
        for f in (d.id, d.title, d.text):
            h.update(f.encode() + b"\0")
    a = build_docstore(docs, tmp_path / "a.sqlite", show_progress=False)
    b = build_docstore(docs, tmp_path / "b.sqlite", passage_words=0, show_progress=False)
    assert a.corpus_hash == b.corpus_hash == h.hexdigest()
    c = build_docstore(docs[::-1], tmp_path / "c.sqlite", show_progress=False)
    assert c.corpus_hash != a.corpus_hash
    assert b.passages == 0


def test_build_options(tmp_path: Path) -> None:
    text = "Intro.\n\n" + " ".join(f"w{i}" for i in range(25))
    r = build_docstore(
        [Document("x", "X", text)], tmp_path / "s.sqlite", passage_words=10, min_paragraph_chars=0
    )
    assert (r.paragraphs, r.passages) == (2, 3)
    with DocStore.open(tmp_path / "s.sqlite") as s:
        info = s.info()
        assert (info.passage_words, info.min_paragraph_chars) == (10, 0)
        assert [p.text.split()[0] for p in s.iter_units("passage")] == ["Intro.", "w9", "w19"]
    with pytest.raises(InputError):
        build_docstore([], tmp_path / "bad.sqlite", passage_words=-1)
    with pytest.raises(InputError):
        build_docstore([], tmp_path)  # a folder, not a file


def _failing(docs: list[Document], after: int) -> Iterator[Document]:
    for i, d in enumerate(docs):
        if i == after:
            raise RuntimeError("simulated crash mid-build")
        yield d


def test_failed_build_leaves_previous_store_intact(tmp_path: Path) -> None:
    out = tmp_path / "store.sqlite"
    old = build_docstore(_docs(3, "old"), out, show_progress=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_docstore(_failing(_docs(2000, "new"), after=1500), out, show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"]
    with DocStore.open(out) as s:
        assert s.corpus_hash() == old.corpus_hash
        assert list(s.doc_ids()) == ["old0", "old1", "old2"]
    # a successful rebuild replaces it
    new = build_docstore(_docs(2, "new"), out, show_progress=False)
    with DocStore.open(out) as s:
        assert s.corpus_hash() == new.corpus_hash and s.count("doc") == 2


def test_rebuild_while_a_reader_is_open(tmp_path: Path) -> None:
    out = tmp_path / "store.sqlite"
    build_docstore(_docs(2, "a"), out, show_progress=False)
    with DocStore.open(out) as reader:
        assert reader.get_document("a0") is not None
        build_docstore(_docs(2, "b"), out, show_progress=False)
        # the open reader keeps its snapshot (old inode); a new open sees the new store
        with DocStore.open(out) as fresh:
            assert fresh.get_document("b0") is not None and fresh.get_document("a0") is None


def test_store_is_one_wal_mode_file_and_reading_leaves_no_side_files(tmp_path: Path) -> None:
    out = tmp_path / "store.sqlite"
    build_docstore(_docs(5), out, show_progress=False)
    header = out.read_bytes()[:20]
    assert header[:16] == b"SQLite format 3\x00"
    assert (header[18], header[19]) == (2, 2)  # file format read/write version 2 = WAL
    with DocStore.open(out) as s:
        assert s.get_document("d3") is not None and s.find_title("Title 4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"]


def test_build_from_tiny_jsonl(tiny_corpus_jsonl: Path, tmp_path: Path) -> None:
    r = build_docstore(read_corpus([tiny_corpus_jsonl]), tmp_path / "t.sqlite", show_progress=False)
    assert (r.documents, r.duplicates, r.empty) == (12, 1, 1)
    assert r.seconds >= 0


def test_build_docs_bar_has_a_total_and_counts_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the bar counted documents with no total (no ETA). Now it counts input bytes of a known
    total, file by file, with the documents stored as its postfix."""
    import json

    from indexing.docstore import _with_progress
    from indexing.ingest.corpus import CorpusMeter, read_corpus

    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in range(3):
        lines = [json.dumps({"id": f"{f}-{i}", "title": "T", "text": f"text {f} {i}"}) for i in range(5)]
        (folder / f"part{f}.jsonl").write_text("\n".join(lines) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir())
    meter = CorpusMeter()

    class Counter:
        documents = 0

    w = Counter()
    for _ in _with_progress(read_corpus([folder], meter=meter), meter, w, show=True):  # type: ignore[arg-type]
        w.documents += 1
    assert (meter.total, meter.done, meter.files, meter.files_done) == (size, size, 3, 3)
    err = capsys.readouterr().err
    print(repr(err[-300:]))
    assert (
        "build-docs" in err and "15 docs" in err and f"/{size}" in err.replace(".00B", "B").replace("B/", "/")
    )
