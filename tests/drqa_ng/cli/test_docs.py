from __future__ import annotations

import json
from pathlib import Path

import pytest

from drqa_ng.store.docstore import DocStore


def test_build_docs_then_info_and_get(run_cli, tiny_corpus_jsonl: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "docs.sqlite"
    rc, stdout, _ = run_cli("build-docs", str(tiny_corpus_jsonl), str(out), "--no-progress")
    assert rc == 0
    assert (
        "documents:  12" in stdout and "duplicates skipped: 1" in stdout and "empty skipped:      1" in stdout
    )
    with DocStore.open(out) as s:
        assert next(iter(s.doc_ids())) == "france"  # single source: ids not prefixed
    rc, stdout, _ = run_cli("docs-info", str(out))
    assert rc == 0 and "documents:   12" in stdout and "passages:" in stdout
    rc, stdout, _ = run_cli("get-doc", str(out), "eiffel_tower#p1")
    assert rc == 0 and "completed in 1889" in stdout and "Eiffel Tower [eiffel_tower#p1]" in stdout
    rc, stdout, _ = run_cli("get-doc", str(out), "--title", "marie curie")
    assert rc == 0 and "Nobel Prize in Physics in 1903" in stdout


def test_build_docs_options_and_prefix(run_cli, tiny_wikiextractor_tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "w.sqlite"
    rc, _, _ = run_cli(
        "build-docs",
        str(tiny_wikiextractor_tree / "text"),
        str(tiny_wikiextractor_tree / "json"),
        str(out),
        "--format",
        "wikiextractor",
        "--passage-words",
        "0",
        "--min-paragraph-chars",
        "0",
        "--no-progress",
    )
    assert rc == 0
    with DocStore.open(out) as s:
        assert s.count("doc") == 10 and s.count("passage") == 0
        assert list(s.doc_ids())[:2] == ["text:1", "text:2"]
        info = s.info()
        assert info.min_paragraph_chars == 0 and len(info.sources) == 2
        april = s.find_title("april")
        assert april is not None and april.id == "text:1"


def test_errors_are_one_line_and_nonzero(run_cli, tiny_corpus_jsonl: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x.sqlite"
    rc, _, err = run_cli("build-docs", str(tmp_path / "missing.jsonl"), str(out))
    assert (
        rc == 5
        and err.startswith("drqa-ng build-docs: error: corpus path not found")
        and err.count("\n") == 1
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("plain prose\n")
    rc, _, err = run_cli("build-docs", str(notes), str(out), "--no-progress")
    assert rc == 3 and "unknown corpus format" in err and err.count("\n") == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "text": "ok"}) + "\n{broken\n")
    rc, _, err = run_cli("build-docs", str(bad), str(out), "--no-progress")
    assert rc == 3 and "bad.jsonl:2" in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    rc, _, err = run_cli("build-docs", str(tiny_corpus_jsonl))
    assert rc == 2 and "OUT.sqlite" in err
    # the last path would overwrite a corpus file: refused
    rc, _, err = run_cli("build-docs", str(tiny_corpus_jsonl), str(bad))
    assert rc == 2 and "refusing to overwrite" in err
    assert bad.read_text().startswith('{"id": "a"')
    rc, _, err = run_cli("docs-info", str(tmp_path / "none.sqlite"))
    assert rc == 5 and "not found" in err
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00garbage" * 512)
    rc, _, err = run_cli("docs-info", str(garbage))
    assert rc == 4 and "not a drqa-ng doc store" in err


def test_get_doc_unknown(run_cli, tiny_docstore: Path) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli("get-doc", str(tiny_docstore), "nope#p0")
    assert rc == 5 and "no document or unit 'nope#p0'" in err
    rc, _, err = run_cli("get-doc", str(tiny_docstore), "--title", "Atlantis")
    assert rc == 5 and "no document titled" in err


DEEP = "[" * 10_000 + "]" * 10_000
GOOD = json.dumps({"id": "a", "title": "A", "text": "Fine text."})


def _surrogate_line(field: str) -> str:
    record = {"id": "b", "title": "B", "text": "Some text."}
    record[field] = record[field] + "\ud800"
    return json.dumps(record)  # ensure_ascii: written as the escape "\ud800"


@pytest.mark.parametrize(
    ("line", "needle", "first"),
    [
        ('{"id": "b", "text": ' + DEEP + "}", "nested too deeply", False),
        ('{"id": "b", "text": ' + DEEP + "}", "nested too deeply", True),  # read by the format sniffer
        (DEEP, "nested too deeply", False),
        (_surrogate_line("text"), '"text"', False),
        (_surrogate_line("id"), '"id"', False),
        (_surrogate_line("title"), '"title"', True),
    ],
    ids=["deep-field", "deep-first-line", "deep-line", "surrogate-text", "surrogate-id", "surrogate-title"],
)
def test_build_docs_deep_or_surrogate_line_is_one_line_naming_file_and_line(
    run_cli,
    tmp_path: Path,
    line: str,
    needle: str,
    first: bool,  # type: ignore[no-untyped-def]
) -> None:
    """Before: RecursionError / UnicodeEncodeError tracebacks (exit 1). After: exit 3, one line with
    file:line, and ``--skip-bad-files`` skips the file as for any other bad line."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text((line + "\n" + GOOD if first else GOOD + "\n" + line) + "\n")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "c", "title": "C", "text": "Other text."}) + "\n")
    out = tmp_path / "docs.sqlite"
    rc, _, err = run_cli("build-docs", str(bad), str(out), "--no-progress")
    where = f"bad.jsonl:{1 if first else 2}:"
    assert rc == 3 and where in err and needle in err and err.count("\n") == 1, err
    rc, stdout, err = run_cli(
        "build-docs",
        str(bad),
        str(good),
        str(out),
        "--no-progress",
        "--skip-bad-files",
        "--id-prefix",
        "never",
    )
    assert rc == 0 and "bad files skipped:  1" in stdout and where in err, err
    with DocStore.open(out) as s:
        assert s.get_document("c") is not None
