"""Distant supervision: answer matching, overlap scoring, paragraph choice, the CLI on the tiny corpus."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from drqa_ng.errors import InputError
from drqa_ng.reading.data import load_examples
from drqa_ng.reading.distant import (
    DSQuestion,
    answer_pattern,
    best_match,
    overlap_score,
    question_grams,
    same_paragraph,
)
from drqa_ng.types import Passage


def _p(uid: str, text: str, title: str = "T") -> Passage:
    return Passage(uid, uid.split("#")[0], title, text, 0, len(text))


def test_answer_pattern_ignores_token_spacing_and_respects_word_boundaries() -> None:
    pat = answer_pattern("84 %")
    assert pat is not None
    assert pat.search("about 84% of cases").group() == "84%"  # type: ignore[union-attr]
    assert pat.search("about 184% of cases") is None
    p2 = answer_pattern("St. Louis")
    assert p2 is not None and p2.search("went to St.Louis by train") is not None
    assert answer_pattern("Paris").search("Parisian cafes") is None  # type: ignore[union-attr]
    assert answer_pattern(" . ") is None


def test_overlap_score_counts_question_ngrams_near_the_answer_only() -> None:
    q = question_grams("Who designed the Eiffel Tower?")
    text = "The Eiffel Tower was designed by Gustave Eiffel. " + "Filler words here. " * 30 + "Tower."
    start = text.index("Gustave Eiffel")
    near = overlap_score(q, text, start, start + len("Gustave Eiffel"))
    # eiffel, tower, designed, "eiffel tower" are within 20 tokens; the far "Tower." is not needed
    assert near == 4
    assert overlap_score(q, text, start, start + 14, window=0) == 0
    assert overlap_score(question_grams(""), text, start, start + 14) == 0


def test_best_match_prefers_the_paragraph_that_matches_the_question() -> None:
    q = DSQuestion("q1", "In which year did the French Revolution begin?", "1789")
    paras = [
        _p("a#p0", "The number 1789 appears in a list of prime-like numbers in this short note."),
        _p("b#p1", "The French Revolution began in 1789 with the storming of the Bastille."),
        _p("c#p0", "Short 1789."),  # under MIN_CHARS
    ]
    m = best_match(q, paras)
    assert m is not None and m.passage.id == "b#p1" and m.rank == 1
    assert m.passage.text[m.answer_start : m.answer_start + len(m.answer_text)] == "1789"
    # the answer alone, with no question word nearby, is not evidence
    assert best_match(q, paras[:1]) is None
    assert best_match(DSQuestion("q2", "When?", "1790"), paras) is None


def test_best_match_tries_every_gold_and_regex_answers() -> None:
    paras = [_p("a#p0", "The Apollo 11 crew landed on the Moon in July 1969, led by Neil Armstrong.")]
    q = DSQuestion("q", "Who led the crew that landed on the Moon?", "Buzz Aldrin", ("Neil Armstrong",))
    m = best_match(q, paras)
    assert m is not None and m.answer_text == "Neil Armstrong"
    assert best_match(DSQuestion("q", q.question, "Buzz Aldrin"), paras) is None
    rq = DSQuestion("r", "When did the crew land on the Moon?", r"July\s+19[67]9|\(", regex=True)
    m = best_match(rq, paras)
    assert m is not None and m.answer_text == "July 1969"
    # as a plain answer the same string matches nothing
    assert best_match(DSQuestion("r", rq.question, rq.answer), paras) is None
    # an invalid regex is skipped, not an error
    assert best_match(DSQuestion("r", rq.question, "July(", regex=True), paras) is None


def test_read_records_reads_format_a_answer_lists(tmp_path: Path) -> None:
    from drqa_ng.reading.distant import read_records

    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"id": "w1", "question": "q?", "answer": ["A", "B", "A"]}) + "\n")
    [r] = read_records(f, regex=True)
    assert r.question.answer == "A" and r.question.alternatives == ("B",) and r.question.regex
    assert r.context is None


def test_same_paragraph_is_token_jaccard() -> None:
    a = "The French Revolution began in 1789 with the storming of the Bastille."
    assert same_paragraph(a, a.replace("storming", "fall"))
    assert not same_paragraph(a, "Paris is the capital of France.")
    assert not same_paragraph("", a)


def test_distant_supervise_cli_writes_trainable_records_and_scores_known_questions(
    run_cli, tiny_docstore: Path, tiny_sparse_index: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    noctx = tmp_path / "noctx.jsonl"
    rows = [
        {"id": "n1", "question": "Who designed the Eiffel Tower ?", "answer": "Gustave Eiffel"},
        {"id": "n2", "question": "Who made the first ascent of Mount Everest ?", "answer": "Edmund Hillary"},
        {"id": "n3", "question": "What colour is the sky on Mars ?", "answer": "butterscotch"},
        {"id": "dup", "question": "What is the capital of France ?", "answer": "Paris"},
    ]
    noctx.write_text("".join(json.dumps(r) + "\n" for r in rows))
    known = tmp_path / "known.jsonl"
    ctx = "Paris is the capital of France and the country's most populous city."
    known.write_text(
        json.dumps(
            {
                "id": "k1",
                "title": "France",
                "context": ctx,
                "question": "What is the capital of France?",
                "answers": [{"text": "Paris", "answer_start": 0}],
            }
        )
        + "\n"
    )
    out = tmp_path / "ds" / "out.jsonl.gz"
    rc, stdout, _ = run_cli(
        "distant-supervise", str(noctx), "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore),
        "--out", str(out), "--dedupe-against", str(known),
    )  # fmt: skip
    assert rc == 0, stdout
    assert "2/3 questions matched" in stdout
    with gzip.open(out, "rt") as f:
        recs = [json.loads(x) for x in f]
    assert [r["ds"]["unit"] for r in recs] == ["eiffel_tower#p2", "mount_everest#p1"]
    examples = load_examples(out)
    assert [e.context[e.answer_starts[0] :].startswith(e.answers[0]) for e in examples] == [True, True]

    # shards split the deduped questions: 1/2 holds n2 only
    rc, stdout, _ = run_cli(
        "distant-supervise", str(noctx), "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore),
        "--out", str(tmp_path / "s1.jsonl"), "--dedupe-against", str(known), "--shard", "1/2",
    )  # fmt: skip
    assert rc == 0 and "1/1 questions matched" in stdout
    assert json.loads((tmp_path / "s1.jsonl").read_text())["id"] == "n2"
    rc, _, stderr = run_cli(
        "distant-supervise", str(noctx), "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore),
        "--out", str(tmp_path / "s2.jsonl"), "--shard", "2/2",
    )  # fmt: skip
    assert rc == 2 and "--shard" in stderr

    rc, stdout, _ = run_cli(
        "distant-supervise", str(known), "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore),
        "--out", str(tmp_path / "known_ds.jsonl"), "-k", "5",
    )  # fmt: skip
    assert rc == 0
    assert "same paragraph 100.0%, same title 100.0% (of 1 with a title)" in stdout
    report = json.loads((tmp_path / "known_ds.report.json").read_text())
    assert report["precision_same_paragraph"] == 1.0

    rc, _, stderr = run_cli(
        "distant-supervise", str(noctx), "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore),
        "--out", str(tmp_path / "x.txt"),
    )  # fmt: skip
    assert rc != 0 and "must end in .jsonl" in stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no answer"}\n')
    rc, _, stderr = run_cli(
        "distant-supervise", str(bad), "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore),
        "--out", str(tmp_path / "y.jsonl"),
    )  # fmt: skip
    assert rc != 0 and "bad.jsonl:1" in stderr


@pytest.mark.parametrize("answer", ["Paris", "the capital"])
def test_best_match_offsets_point_at_the_answer(answer: str) -> None:
    text = "Paris is the capital of France and the country's most populous city."
    m = best_match(
        DSQuestion("q", "What is the capital of France?" if answer == "Paris" else "Paris is what?", answer),
        [_p("f#p0", text)],
    )
    assert m is not None and text[m.answer_start :].startswith(answer)


def test_select_records_dedupes_limits_and_shards(tmp_path: Path) -> None:
    from drqa_ng.reading.distant import parse_shard, select_records

    a = tmp_path / "a.jsonl"
    a.write_text("".join(json.dumps({"question": f"Q{i} ?", "answer": "x"}) + "\n" for i in range(6)))
    seen = tmp_path / "seen.jsonl"
    seen.write_text(json.dumps({"question": "Q1?", "answer": "x"}) + "\n")  # plain vs tokenised "Q1 ?"
    got = [r.question.question for r in select_records([a], dedupe_against=[seen], limit=4)]
    assert got == ["Q0 ?", "Q2 ?", "Q3 ?"]
    got = [r.question.question for r in select_records([a], shard=parse_shard("1/2"))]
    assert got == ["Q1 ?", "Q3 ?", "Q5 ?"]
    for bad in ("2/2", "x/2", "1"):
        with pytest.raises(InputError):
            parse_shard(bad)


def test_hold_out_drops_exactly_the_evaluated_sample(tmp_path: Path) -> None:
    """--hold-out-sample N drops the questions `evaluate --sample N --seed S` scores and keeps the rest,
    so a QA set can be trained on (distant supervision) and still reported on untouched questions."""
    from drqa_ng.cli.main import main
    from drqa_ng.evaluation.runner import QuestionSelection, select_questions
    from drqa_ng.reading.distant import select_records

    a = tmp_path / "qa.jsonl"
    a.write_text(
        "".join(json.dumps({"question": f"Question {i}?", "answer": ["x"]}) + "\n" for i in range(40))
    )
    evaluated = {q.question for q in select_questions(QuestionSelection(a, sample=10, seed=3))}
    assert len(evaluated) == 10
    kept = [r.question.question for r in select_records([a], hold_out=sorted(evaluated))]
    assert len(kept) == 30 and not evaluated & set(kept)

    # the CLI flag selects the same sample (it fails at the index, after printing the hold-out)
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["distant-supervise", str(a), "--index", str(tmp_path / "none"), "--docs", str(tmp_path / "none"),
                   "--out", str(tmp_path / "o.jsonl"), "--hold-out-sample", "10", "--hold-out-seed", "3"])  # fmt: skip
    assert rc != 0 and "held out 10 questions (evaluate --sample 10 --seed 3)" in buf.getvalue()


def test_distant_supervise_writes_matches_and_report(tmp_path: Path) -> None:
    from drqa_ng.reading.distant import DSRecord, distant_supervise, report_path
    from drqa_ng.types import Hit

    text = "The Eiffel Tower was designed by Gustave Eiffel and completed in 1889."
    store = {"d#p0": _p("d#p0", text, "Eiffel Tower"), "e#p0": _p("e#p0", "Nothing here at all, just words.")}

    class Retriever:
        def search(self, queries: list[str], k: int) -> list[list[Hit]]:
            return [[Hit("e#p0", "e", 2.0), Hit("d#p0", "d", 1.0)][:k] for _ in queries]

    class Store:
        def get_passages(self, ids: list[str]) -> list[Passage | None]:
            return [store.get(i) for i in ids]

    q = DSQuestion("1", "Who designed the Eiffel Tower?", "Gustave Eiffel")
    records = [DSRecord(q, "Eiffel Tower", text), DSRecord(DSQuestion("2", "Who?", "Nobody"))]
    out = tmp_path / "o" / "ds.jsonl"
    r = distant_supervise(records, Retriever(), Store(), out, k=2)
    assert (r.questions, r.matched, r.known_matched, r.same_paragraph, r.same_title) == (2, 1, 1, 1, 1)
    (rec,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert rec["context"][rec["answers"][0]["answer_start"] :].startswith("Gustave Eiffel")
    report = json.loads(report_path(out).read_text())
    assert report["precision_same_paragraph"] == 1.0 and report["matched"] == 1
    r = distant_supervise(records, Retriever(), Store(), out, k=2, exclude_prefixes=["d"])
    assert r.matched == 0
    with pytest.raises(InputError):
        distant_supervise(records, Retriever(), Store(), tmp_path / "x.txt")

    # the match is the 2nd hit with overlap 4 (eiffel, tower, designed, "eiffel tower"): kept only where
    # the filters allow it, and the report says which filters ran
    assert distant_supervise(records, Retriever(), Store(), out, k=2, max_rank=2, min_overlap=4).matched == 1
    assert distant_supervise(records, Retriever(), Store(), out, k=2, max_rank=1).matched == 0
    assert distant_supervise(records, Retriever(), Store(), out, k=2, min_overlap=5).matched == 0
    assert json.loads(report_path(out).read_text())["min_overlap"] == 5
    for bad in ({"max_rank": 0}, {"min_overlap": 0}):
        with pytest.raises(InputError):
            distant_supervise(records, Retriever(), Store(), out, k=2, **bad)  # type: ignore[arg-type]
