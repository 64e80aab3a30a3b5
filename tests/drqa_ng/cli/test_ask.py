"""`drqa-ng ask` over the tiny doc store + BM25 index and the tiny (untrained) reader.

The tiny reader's spans are arbitrary, so these tests check structure and evidence, not correctness;
answer quality with the shipped reader is checked in tests/drqa_ng/test_pipeline.py when it exists.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.corpus import TINY_FACTS


@pytest.fixture
def home(tmp_path: Path, tiny_sparse_index: Path, tiny_docstore: Path, tiny_model_dir: Path) -> Path:
    cfg = {
        "format_version": 1,
        "docs": str(tiny_docstore),
        "indexes": [str(tiny_sparse_index)],
        "unit": "paragraph",
        "fusion": "rrf",
        "reader": str(tiny_model_dir),
        "weight": 0.5,
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_ask_json_has_evidence_from_the_store(run_cli, pipe_args: list[str]) -> None:  # type: ignore[no-untyped-def]
    q = TINY_FACTS[0][0]
    rc, out, err = run_cli(
        "ask", *pipe_args, "-n", "3", "--json", q, "Who created the Python programming language?"
    )
    assert rc == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["question"] for x in lines] == [q, "Who created the Python programming language?"]
    for obj in lines:
        assert 1 <= len(obj["answers"]) <= 3
        for a in obj["answers"]:
            assert a["passage_text"][a["start"] : a["end"]] == a["text"]
            assert a["passage_id"].startswith(a["doc_id"] + "#p")
    assert any(a["doc_id"] == "france" for a in lines[0]["answers"])
    assert any(a["doc_id"] == "python_language" for a in lines[1]["answers"])


def test_ask_answers_do_not_depend_on_the_other_questions(
    run_cli, tiny_sparse_index, tiny_docstore, tiny_onnx_dir
) -> None:  # type: ignore[no-untyped-def]
    """Same JSON for a question asked alone or among 2, 7 or all questions (int8 ONNX reader)."""
    args = ["--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--reader", str(tiny_onnx_dir)]
    qs = [q for q, _, _ in TINY_FACTS]
    alone = {}
    for q in qs:
        rc, out, err = run_cli("ask", *args, "--json", q)
        assert rc == 0, err
        alone[q] = json.loads(out)
    for size in (2, 7, len(qs)):
        batch = qs[-size:]
        rc, out, err = run_cli("ask", *args, "--json", *batch)
        assert rc == 0, err
        assert [json.loads(x) for x in out.splitlines()] == [alone[q] for q in batch]


def test_ask_text_output_highlights_answer(run_cli, pipe_args: list[str]) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = run_cli("ask", *pipe_args, "-n", "1", "What is the capital of France?")
    assert rc == 0
    assert out.startswith("Q: What is the capital of France?")
    assert " 1. " in out and "score" in out and "(doc " in out
    assert out.count("**") >= 2  # answer marked in its snippet (no tty: ** instead of colour)


def test_ask_interactive_reads_stdin_until_eof(run_cli, pipe_args, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stdin = "What is the capital of France?\n\n" + "x" * 2000 + "\nWho designed the Eiffel Tower?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc, out, err = run_cli("ask", *pipe_args, "-i", "--json", "-n", "2")
    assert rc == 0
    qs = [json.loads(x)["question"] for x in out.splitlines()]
    assert qs == ["What is the capital of France?", "Who designed the Eiffel Tower?"]
    assert "too long" in err  # the bad line is reported and the loop goes on


def test_ask_uses_home_config(run_cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run_cli("ask", "--home", str(home), "--json", "When was the Eiffel Tower completed?")
    assert rc == 0, err
    (obj,) = [json.loads(x) for x in out.splitlines()]
    assert obj["answers"] and any(a["doc_id"] == "eiffel_tower" for a in obj["answers"])


def test_ask_errors(run_cli, tmp_path: Path, pipe_args: list[str]) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli("ask", "--home", str(tmp_path), "q")
    assert rc == 5 and "quickstart" in err
    rc, _, err = run_cli("ask", *pipe_args)
    assert rc == 2 and "question" in err
    rc, _, err = run_cli("ask", *pipe_args, "   ")
    assert rc == 2 and "empty" in err


def test_ask_shows_confidence_and_abstains_below_min_confidence(run_cli, pipe_args) -> None:  # type: ignore[no-untyped-def]
    q = "What is the capital of France?"
    rc, out, err = run_cli("ask", *pipe_args, "-n", "3", "--json", q)
    assert rc == 0, err
    (obj,) = [json.loads(x) for x in out.splitlines()]
    assert obj["abstained"] is False  # the tiny reader has no calibration: it never abstains
    confs = [a["confidence"] for a in obj["answers"]]
    assert all(0.0 <= c <= 1.0 for c in confs) and confs == sorted(confs, reverse=True)
    for a in obj["answers"]:
        assert a["support"]["count"] >= 1 and a["passage_id"] in a["support"]["passage_ids"]
        assert a["retriever_rank"] >= 1 and isinstance(a["retriever_raw"], float)
    rc, out, _ = run_cli("ask", *pipe_args, "-n", "3", q)
    assert rc == 0 and "% confidence" in out
    rc, out, _ = run_cli("ask", *pipe_args, "-n", "3", "--min-confidence", "1", "--json", q)
    (obj,) = [json.loads(x) for x in out.splitlines()]
    assert obj["abstained"] is True and obj["answers"]  # JSON keeps the answers and their numbers
    rc, out, _ = run_cli("ask", *pipe_args, "-n", "3", "--min-confidence", "1", q)
    assert rc == 0 and "no confident answer" in out and "best evidence" in out
    assert " 1. " not in out  # no ranked answer list when abstaining
    rc, _, err = run_cli("ask", *pipe_args, "--min-confidence", "1.5", q)
    assert rc == 2 and "min_confidence" in err


def test_bad_question_fails_before_anything_loads(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`ask ""` used to load the model (6 s) before saying the question is empty."""
    import drqa_ng.cli.options as options

    def no_load(args: object) -> None:
        raise AssertionError("the pipeline was loaded for a request that cannot be answered")

    monkeypatch.setattr(options, "load_pipeline", no_load)
    for argv, needle in (
        (["ask", ""], "empty"),
        (["ask", "Who?", "-k", "0"], "-k"),
        (["ask", "Who?", "-n", "0"], "top_n"),
    ):
        rc, _, err = run_cli(*argv)
        assert rc == 2 and needle in err and "Traceback" not in err, err
    rc, _, err = run_cli("video-ask", "--video-index", str(tmp_path / "none"), "   ")
    assert rc == 2 and "empty" in err, err  # checked before the (missing) index is opened


def test_ask_overlap_on_and_off_print_the_same(run_cli, pipe_args, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    qs = [q for q, _, _ in TINY_FACTS]
    outs = []
    for flags in (["--overlap", "on"], ["--no-overlap"]):
        rc, out, err = run_cli("ask", *pipe_args, *flags, "--json", "-n", "2", *qs)
        assert rc == 0, err
        outs.append(out)
        stdin = "\n".join([qs[0], "x" * 2000, *qs[1:]]) + "\n"
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        rc, out_i, err = run_cli("ask", *pipe_args, *flags, "-i", "--json", "-n", "2")
        assert rc == 0 and "too long" in err
        assert out_i == out  # the bad line is reported in its place, the others answered in order
        outs.append(out_i)
    assert outs[0] == outs[2]
    assert [json.loads(x)["question"] for x in outs[0].splitlines()] == qs


def test_ask_checks_every_question_before_answering_any(run_cli, pipe_args) -> None:  # type: ignore[no-untyped-def]
    many = [q for q, _, _ in TINY_FACTS] * 2  # more than one reader batch
    rc, out, err = run_cli("ask", *pipe_args, "--json", *many, "why " * 400)
    assert rc == 2 and "too long" in err and out == ""


def test_ask_passages_lists_the_passages_read_in_both_orders(run_cli, pipe_args: list[str]) -> None:  # type: ignore[no-untyped-def]
    q = TINY_FACTS[0][0]
    rc, out, err = run_cli("ask", *pipe_args, "-k", "4", "--passages", "3", "--json", q)
    assert rc == 0, err
    [obj] = [json.loads(x) for x in out.splitlines()]
    read = obj["passages"]
    assert len(read) == 3
    ranks = [p["retriever_rank"] for p in read]
    assert len(set(ranks)) == 3 and all(1 <= r <= 4 for r in ranks)  # a permutation of what was read
    for p in read:
        assert p["passage_id"].startswith(p["doc_id"] + "#p") and p["text"]
    rc, out, err = run_cli(
        "ask", *pipe_args, "-k", "4", "--passages", "4", "--evidence-order", "retriever", "--json", q
    )
    assert rc == 0, err
    [obj] = [json.loads(x) for x in out.splitlines()]
    in_order = [p["retriever_rank"] for p in obj["passages"]]
    assert len(in_order) >= 3 and in_order == list(range(1, len(in_order) + 1))
    rc, out, err = run_cli("ask", *pipe_args, "--passages", "2", q)
    assert rc == 0, err
    assert "passages read, best first:" in out and " 2. " in out and "retriever rank" in out
    rc, out, err = run_cli("ask", *pipe_args, "--json", q)
    assert json.loads(out.splitlines()[0])["passages"] == []  # only when asked for
    rc, out, err = run_cli("ask", *pipe_args, "--passages", "-1", q)
    assert rc == 2 and "--passages must be >= 0" in err


def test_flat_head_collapses_whitespace_and_cuts_within_the_bound() -> None:
    from drqa_ng.cli.ask import flat_head

    assert flat_head("a\n\n b\tc ", 10) == "a b c"
    assert flat_head("abcde", 5) == "abcde"  # exactly the bound: kept whole
    assert flat_head("abcdef", 5) == "abcd…"  # cut: at most the bound, ellipsis included
