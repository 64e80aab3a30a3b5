"""scripts/ship_reader.py: the shipping rule (size, int8 loss, paired gain over the shipped reader)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.scripts.loader import load_script

ship = load_script("ship_reader")


def _report(f1s: list[float], articles: str = "val.txt") -> dict[str, Any]:
    scores = {f"q{i}": [float(f == 1.0), f] for i, f in enumerate(f1s)}
    return {"questions": len(f1s), "articles": articles, "f1": 100 * sum(f1s) / len(f1s), "scores": scores}


def test_paired_gain_is_the_mean_per_question_difference_with_its_standard_error() -> None:
    new, base = _report([1.0, 1.0, 0.5, 0.0]), _report([1.0, 0.0, 0.5, 0.0])
    gain, se, n = ship.paired_gain(new, base)
    assert n == 4 and gain == pytest.approx(25.0)
    # differences 0, 100, 0, 0: sd = 50, se = 50 / 2
    assert se == pytest.approx(25.0)
    assert not math.isnan(se)


def test_a_candidate_that_beats_the_shipped_reader_by_two_points_ships() -> None:
    base = _report([0.5] * 100)
    ev = _report([0.53] * 100)  # +3 points on every question
    assert ship.refusals(22.0, ev, ev, base) == []


@pytest.mark.parametrize(
    ("size", "int8", "fp32", "base", "reason"),
    [
        (31.0, [0.6] * 10, [0.6] * 10, [0.5] * 10, "MB"),
        (20.0, [0.6] * 10, [0.62] * 10, [0.5] * 10, "below fp32"),
        (20.0, [0.51] * 10, [0.51] * 10, [0.5] * 10, "paired F1 gain +1.00"),
    ],
)
def test_refusals_name_their_reason(
    size: float, int8: list[float], fp32: list[float], base: list[float], reason: str
) -> None:
    why = ship.refusals(size, _report(int8), _report(fp32), _report(base))
    assert any(reason in w for w in why), why


def test_reports_on_other_questions_are_refused() -> None:
    ev, ev32 = _report([0.9] * 10), _report([0.9] * 10, articles="other.txt")
    assert any("different questions" in w for w in ship.refusals(20.0, ev, ev32, _report([0.1] * 10)))
    assert any("no baseline" in w for w in ship.refusals(20.0, ev, ev))
    assert any("not 2.0 above" in w for w in ship.refusals(20.0, ev, ev, baseline_f1=89.0))
    with pytest.raises(SystemExit, match="no per-question"):
        ship.paired_gain(ev, {"scores": {}})


def test_a_larger_size_limit_is_explicit() -> None:
    ev, base = _report([0.6] * 10), _report([0.5] * 10)
    assert any("67.1 MB > 30.0 MB" in w for w in ship.refusals(67.1, ev, ev, base))
    assert ship.refusals(67.1, ev, ev, base, max_mb=70.0) == []
    assert any("71.0 MB > 70.0 MB" in w for w in ship.refusals(71.0, ev, ev, base, max_mb=70.0))
