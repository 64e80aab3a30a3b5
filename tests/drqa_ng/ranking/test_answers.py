from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError
from drqa_ng.ranking.answers import (
    FEATURES,
    RANKER_FILE,
    RankerWeights,
    answer_type,
    ranker_features,
    rerank,
    type_fits,
)
from drqa_ng.retrieval.articles import PassageSignals
from drqa_ng.types import Answer, Passage, Support

P1 = Passage("a#p0", "a", "Titanic", "The Titanic sank in 1912. A film followed.", 0, 42)
P2 = Passage("b#p0", "b", "Titanic (movie)", "Titanic is a 1997 movie by James Cameron.", 0, 41)


def ans(text: str, p: Passage, reader: float, prob: float, count: int = 1) -> Answer:
    start = p.text.index(text)
    return Answer(
        text, reader, p, start, start + len(text), reader, 1.0, retriever_rank=1, span_prob=prob,
        support=Support(count, (p.id,)),
    )  # fmt: skip


def weights(**coef: float) -> RankerWeights:
    n = len(FEATURES)
    return RankerWeights(
        FEATURES, (0.0,) * n, (1.0,) * n, tuple(coef.get(f, 0.0) for f in FEATURES), 0.0, 1.0, 0.0, 0.5
    )


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many legs does a spider have?", "number"),
        ("In what year did the Titanic sink?", "year"),
        ("When did the Titanic sink?", "year"),
        ("Who wrote the novel 1984?", "person"),
        ("What is the capital of Germany?", ""),
    ],
)
def test_answer_type_of_questions(question: str, kind: str) -> None:
    assert answer_type(question) == kind


def test_type_fits() -> None:
    assert type_fits("number", "eight") and type_fits("number", "8 legs") and not type_fits("number", "legs")
    assert (
        type_fits("year", "1912")
        and type_fits("year", "April 1912")
        and not type_fits("year", "James Cameron")
    )
    assert type_fits("person", "George Orwell") and not type_fits("person", "1984")
    assert not type_fits("person", "apple snails") and not type_fits("", "anything")


def test_features_carry_signals_support_and_type() -> None:
    answers = [ans("1912", P1, 3.0, 0.3, count=2), ans("James Cameron", P2, 5.0, 0.7)]
    sig = {
        "a#p0": PassageSignals(para=0.5, para_rank=3, doc=1.0, doc_rank=1, named=1.0, title=1.0, words=0.5)
    }
    x = ranker_features("When did the Titanic sink?", answers, sig)
    f = dict(zip(FEATURES, x[0], strict=True))
    assert x.shape == (2, len(FEATURES))
    assert (
        f["doc"] == 1.0
        and f["named"] == 1.0
        and f["para"] == 0.5
        and f["log_spans"] == pytest.approx(np.log(2))
    )
    assert f["type_wanted"] == 1.0 and f["type_fit"] == 1.0
    g = dict(zip(FEATURES, x[1], strict=True))
    assert g["type_fit"] == 0.0 and g["doc"] == 0.0 and g["para"] == 1.0  # no signals: its retriever norm


def test_rerank_orders_by_the_model_and_calibrates() -> None:
    answers = [ans("James Cameron", P2, 5.0, 0.7), ans("1912", P1, 3.0, 0.3)]
    q = "When did the Titanic sink?"
    by_reader = rerank(q, answers, {}, weights(reader=1.0))
    assert [a.text for a in by_reader] == ["James Cameron", "1912"]
    by_type = rerank(q, answers, {}, weights(reader=1.0, type_fit=5.0))
    assert [a.text for a in by_type] == ["1912", "James Cameron"]
    confs = [a.confidence for a in by_type]
    assert all(c is not None and 0.0 < c < 1.0 for c in confs) and confs[0] > confs[1]  # type: ignore[operator]
    assert by_type[0].score == pytest.approx(3.0 + 5.0)


def test_weights_round_trip_and_bad_files(tmp_path: Path) -> None:
    w = weights(reader=1.0)
    assert RankerWeights.load(tmp_path) is None
    w.save(tmp_path)
    assert RankerWeights.load(tmp_path) == w
    (tmp_path / RANKER_FILE).write_text('{"kind": "answer-ranker", "format_version": 1, "features": ["x"]}')
    with pytest.raises(IndexFormatError):
        RankerWeights.load(tmp_path)
    with pytest.raises(IndexFormatError):
        RankerWeights(("x",), (0.0,), (1.0,), (1.0,), 0.0)
