from __future__ import annotations

import json

from drqa_ng.presentation import answer_dict, confidence_bar, percent, result_dict
from drqa_ng.types import Answer, Passage, Support
from serving.schemas import AnswerOut, QuestionAnswers


def _answer() -> Answer:
    p = Passage("d#p1", "d", "Doc", "Paris is the capital.", 10, 31)
    return Answer(
        "Paris",
        2.5,
        p,
        0,
        5,
        reader_score=2.0,
        retriever_score=0.5,
        retriever_raw=7.25,
        retriever_rank=2,
        span_prob=0.6,
        support=Support(3, ("d#p1", "e#p0")),
        confidence=0.83,
    )


def test_answer_dict_has_typed_numbers_and_support() -> None:
    d = answer_dict(_answer())
    assert d["confidence"] == 0.83 and d["span_prob"] == 0.6 and d["retriever_raw"] == 7.25
    assert d["retriever_rank"] == 2 and d["score"] == 2.5
    assert d["support"] == {"count": 3, "passage_ids": ["d#p1", "e#p0"]}
    assert d["passage_text"][d["start"] : d["end"]] == "Paris"
    json.dumps(d)  # plain JSON values only


def test_http_models_are_the_same_dict() -> None:
    a = _answer()
    assert AnswerOut.of(a).model_dump() == answer_dict(a)
    assert QuestionAnswers.of("q?", [a], True).model_dump() == result_dict("q?", [a], True)


def test_answer_without_support_counts_itself() -> None:
    p = Passage("x", "x", "X", "abc", 0, 3)
    d = answer_dict(Answer("abc", 1.0, p, 0, 3, 1.0, 0.0))
    assert d["support"] == {"count": 1, "passage_ids": ["x"]} and d["confidence"] is None


def test_percent_and_bar() -> None:
    assert percent(0.834) == "83%" and percent(None) == "n/a"
    assert confidence_bar(0.8) == "########.." and confidence_bar(None, 4) == "...."
    assert confidence_bar(1.7, 4) == "####"
