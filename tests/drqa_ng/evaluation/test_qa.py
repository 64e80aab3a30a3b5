from __future__ import annotations

import json
from pathlib import Path

import pytest

from drqa_ng.errors import InputError
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.qa import (
    answer_hit_rank,
    evaluate_qa,
    score_prediction,
    summarize,
    tune_weight,
    write_metrics,
    write_predictions,
)
from drqa_ng.evaluation.report import plot_qa_report
from drqa_ng.pipeline import Evidence, QAResult
from drqa_ng.types import Answer, Passage
from tests.serving.fakes import fake_pipeline

P1 = Passage("a#p0", "a", "Alpha", "The capital of France is Paris.", 0, 31)
P2 = Passage("b#p0", "b", "Beta", "Berlin lies on the Spree.", 0, 25)


def _ans(text: str, p: Passage, reader: float, retr: float) -> Answer:
    start = p.text.index(text)
    return Answer(text, reader, p, start, start + len(text), reader, retr)


def _result(answers: list[Answer], evidence: list[Evidence], seconds: float = 0.1) -> QAResult:
    return QAResult("q", tuple(answers), tuple(evidence), seconds)


def test_score_prediction_hand_made() -> None:
    q = Question("1", "capital of France?", ("Paris", "the city of Paris"))
    ev = [Evidence(P2, 3.0, 1.0, 0), Evidence(P1, 2.0, 0.0, 1)]
    p = score_prediction(q, _result([_ans("Paris", P1, 2.0, 0.0)], ev), regex=False)
    assert (p.em, p.f1, p.hit_rank, p.doc_id, p.title) == (1.0, 1.0, 2, "a", "Alpha")
    p = score_prediction(q, _result([_ans("capital of France", P1, 2.0, 0.0)], ev), regex=False)
    # best gold is 'city of paris': one common token 'of' of 3 → P = R = F1 = 1/3
    assert p.em == 0.0 and p.f1 == pytest.approx(1 / 3)
    p = score_prediction(q, _result([], []), regex=False)
    assert (p.answer, p.em, p.f1, p.hit_rank) == ("", 0.0, 0.0, 0)


def test_regex_mode() -> None:
    q = Question("2", "where?", (r"Par(is|ee)",))
    p = score_prediction(q, _result([_ans("Paris", P1, 1.0, 1.0)], [Evidence(P1, 1.0, 1.0, 0)]), regex=True)
    assert p.regex_match == 1.0 and p.hit_rank == 1
    assert answer_hit_rank([Evidence(P2, 1.0, 1.0, 0)], (r"Par(is|ee)",), regex=True) == 0


def test_summarize_means_recall_and_latency() -> None:
    q = Question("1", "q", ("Paris",))
    preds = [
        score_prediction(q, _result([_ans("Paris", P1, 1, 0)], [Evidence(P1, 1, 1, 0)], 0.1), False),
        score_prediction(q, _result([_ans("Berlin", P2, 1, 0)], [Evidence(P1, 1, 1, 4)], 0.3), False),
        score_prediction(q, _result([_ans("Berlin", P2, 1, 0)], [Evidence(P2, 1, 1, 0)], 0.2), False),
        score_prediction(q, _result([_ans("Paris", P1, 1, 0)], [Evidence(P1, 1, 1, 2)], 0.4), False),
    ]
    m = summarize("squad", preds, regex=False, k=5, answer_weight=0.5, batch_size=1, wall_seconds=2.0)
    assert m.em == 50.0 and m.f1 == 50.0 and m.regex_match is None
    assert dict(m.recall_at) == {1: 25.0, 5: 75.0}
    assert m.latency_p50_ms == pytest.approx(250.0) and m.latency_p95_ms == pytest.approx(385.0)
    assert m.questions_per_s == 2.0


def test_tune_weight_prefers_weight_that_fixes_ranking() -> None:
    questions = [Question("1", "q", ("Paris",)), Question("2", "q", ("Berlin",))]
    results = [
        # reader prefers the wrong answer slightly; the retriever strongly prefers the right one
        _result([_ans("capital", P1, 1.0, 0.0), _ans("Paris", P1, 0.9, 1.0)], []),
        _result([_ans("Berlin", P2, 2.0, 1.0), _ans("Spree", P2, 0.1, 0.0)], []),
    ]
    best, curve = tune_weight(results, questions, grid=(0.0, 0.5, 2.0))
    assert best == 0.5
    assert curve == ((0.0, 50.0), (0.5, 100.0), (2.0, 100.0))
    with pytest.raises(InputError):
        tune_weight(results, questions, grid=())


def test_evaluate_qa_end_to_end_with_fakes(tmp_path: Path) -> None:
    pipe = fake_pipeline(k=3)
    qs = [
        Question("1", "What is the capital of Germany?", ("Berlin",)),
        Question("2", "What is the capital of Italy?", ("Rome",)),
        Question("3", "Who built the Colosseum?", ("Titus",)),
    ]
    preds, m, _ = evaluate_qa(pipe, qs, dataset="squad", batch_size=2)
    assert [p.answer for p in preds][:2] == ["Berlin", "Rome"]
    assert m.questions == 3 and m.em == pytest.approx(200 / 3)
    assert dict(m.recall_at)[3] == pytest.approx(200 / 3)  # no passage holds 'Titus'
    write_predictions(tmp_path / "p.jsonl", preds)
    write_metrics(tmp_path / "m.json", m, index=["x"])
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["answer"] == "Berlin" and len(lines) == 3
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["recall_at"]["recall@1"] == m.recall_at[0][1] and data["index"] == ["x"]
    png = plot_qa_report(m, preds, tmp_path / "r.png", weight_curve=[(0.0, 1.0), (1.0, 2.0)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_qa_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        evaluate_qa(fake_pipeline(), [], dataset="squad")
    with pytest.raises(InputError):
        evaluate_qa(fake_pipeline(), [Question("1", "q", ("a",))], dataset="trivia")
