from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.confidence import (
    CALIBRATION_FILE,
    FEATURES,
    Calibration,
    abstains,
    answer_features,
    confidences,
    logit,
    softmax,
)
from drqa_ng.errors import IndexFormatError
from drqa_ng.reading.reader import default_weights_dir
from drqa_ng.types import Answer, Passage, Support


def _answer(
    prob: float, score: float = 1.0, rank: int = 1, passages: int = 1, conf: float | None = None
) -> Answer:
    p = Passage("d#p0", "d", "D", "some text", 0, 9)
    ids = tuple(f"d#p{i}" for i in range(passages))
    return Answer(
        "some",
        score,
        p,
        0,
        4,
        reader_score=score,
        retriever_score=0.5,
        retriever_rank=rank,
        span_prob=prob,
        support=Support(passages, ids),
        confidence=conf,
    )


def test_softmax_and_logit_match_their_formulas() -> None:
    p = softmax([1.0, 2.0, 3.0])
    e = np.exp([1.0, 2.0, 3.0])
    assert p == pytest.approx(e / e.sum())
    assert softmax([1000.0, 1000.0]) == pytest.approx([0.5, 0.5])  # no overflow
    assert logit(0.75) == pytest.approx(math.log(3.0))
    assert logit(0.0) == pytest.approx(-12.0) and logit(1.0) == pytest.approx(12.0)


def test_answer_features_follow_the_documented_order() -> None:
    a, b = _answer(0.7, score=2.0, rank=3, passages=2), _answer(0.2)
    x = answer_features([a, b])
    assert x.shape == (2, len(FEATURES))
    assert x[0] == pytest.approx([logit(0.7), 2.0, 0.5, math.log(3), math.log(2), 0.5])
    assert x[1][-1] == pytest.approx(0.2 - 0.7)


def _cal(coef: tuple[float, ...] = (1.0, 0, 0, 0, 0, 0), threshold: float = 0.4) -> Calibration:
    return Calibration(
        FEATURES, (0.0,) * 6, (2.0,) * 6, coef, intercept=0.5, threshold=threshold, fitted_on="t"
    )


def test_calibration_predicts_the_logistic_formula_and_round_trips(tmp_path: Path) -> None:
    cal = _cal()
    x = answer_features([_answer(0.7)])
    assert cal.predict(x)[0] == pytest.approx(1 / (1 + math.exp(-(0.5 + logit(0.7) / 2.0))))
    cal.save(tmp_path)
    assert Calibration.load(tmp_path) == cal
    assert Calibration.load(tmp_path / "nowhere") is None
    assert json.loads((tmp_path / CALIBRATION_FILE).read_text())["kind"] == "answer-calibration"


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(kind="other"),
        lambda d: d.update(features=["logit_prob"]),
        lambda d: d.update(threshold=2.0),
        lambda d: d.pop("coef"),
        lambda d: d.update(coef=[1.0]),
    ],
)
def test_bad_calibration_files_fail_loudly(tmp_path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    d = _cal().to_json()
    edit(d)
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(d))
    with pytest.raises(IndexFormatError):
        Calibration.load(tmp_path)


def test_confidences_without_calibration_are_the_span_mass_and_abstention_uses_the_best() -> None:
    answers = [_answer(0.6), _answer(0.3)]
    assert confidences(answers, None) == pytest.approx([0.6, 0.3])
    assert confidences([], _cal()) == []
    assert abstains([], 0.0)  # nothing to say is always "no answer"
    assert not abstains([_answer(0.6, conf=0.2), _answer(0.3, conf=0.5)], 0.4)
    assert abstains([_answer(0.6, conf=0.39)], 0.4)
    assert abstains([_answer(0.6, conf=None)], 0.1)


def test_shipped_reader_has_a_loadable_calibration() -> None:
    cal = Calibration.load(default_weights_dir())
    assert cal is not None, "run scripts/fit_calibration.sh to fit the shipped reader's calibration"
    assert 0.0 < cal.threshold < 1.0 and cal.fitted_on
