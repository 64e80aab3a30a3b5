from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.confidence import FEATURES, Calibration
from drqa_ng.errors import DataFormatError, InputError
from drqa_ng.evaluation.calibration import (
    AnswerRow,
    answer_rows,
    choose_threshold,
    expected_calibration_error,
    fit_calibration,
    precision_coverage,
    read_rows,
    reliability_bins,
    top_answers,
    write_rows,
)
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.plots import plot_n_docs_curve, plot_precision_coverage, plot_reliability
from tests.serving.fakes import fake_pipeline

PNG = b"\x89PNG\r\n\x1a\n"


def test_ece_matches_the_hand_formula() -> None:
    conf = np.array([0.05, 0.15, 0.18, 0.95])
    ok = np.array([0.0, 1.0, 0.0, 1.0])
    # bins: [0,.1): conf .05 acc 0 -> .05; [.1,.2): conf .165 acc .5 -> .335 (2 of 4); [.9,1]: .05
    expected = 0.25 * 0.05 + 0.5 * abs(0.5 - 0.165) + 0.25 * 0.05
    assert expected_calibration_error(conf, ok) == pytest.approx(expected)
    assert expected_calibration_error(np.array([]), np.array([])) == 0.0
    mean_conf, acc, counts = reliability_bins(conf, ok)
    assert counts.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert acc[1] == 0.5 and np.isnan(acc[2]) and mean_conf[9] == pytest.approx(0.95)


def test_precision_coverage_and_threshold() -> None:
    conf = np.array([0.9, 0.2, 0.6, 0.4])
    ok = np.array([1.0, 0.0, 0.0, 1.0])
    t, cov, prec = precision_coverage(conf, ok)
    assert t.tolist() == [0.9, 0.6, 0.4, 0.2]
    assert cov.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert prec == pytest.approx([1.0, 0.5, 2 / 3, 0.5])
    assert choose_threshold(conf, ok, 0.6) == 0.4  # the lowest threshold still ≥ 60 % precise
    assert choose_threshold(conf, ok, 0.5) == 0.2
    assert choose_threshold(conf, ok, 1.01) == 1.0  # unreachable: always abstain


def _rows(n: int, seed: int = 0) -> list[AnswerRow]:
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n):
        for rank in (1, 2):
            z = rng.normal(1.0 if rank == 1 else -1.0)
            correct = float(rng.random() < 1 / (1 + np.exp(-2 * z)))
            feats = (z, z, 0.5, 0.0, 0.0, 0.1)
            rows.append(AnswerRow(f"q{q}", rank, f"a{rank}", correct, feats, 0.5, 0.5))
    return rows


def test_fit_calibration_learns_a_monotone_calibrated_map(tmp_path: Path) -> None:
    rows = _rows(400)
    cal = fit_calibration(rows, fitted_on="synthetic", target_precision=0.7)
    assert cal.coef[0] + cal.coef[1] > 0  # more evidence, more confidence
    conf, ok = top_answers(_rows(400, seed=1), cal)
    assert expected_calibration_error(conf, ok) < 0.1  # held-out rows drawn from the same law
    assert 0.0 < cal.threshold < 1.0
    assert cal.report["questions"] == 400
    cal.save(tmp_path)
    assert Calibration.load(tmp_path) == cal
    with pytest.raises(InputError):
        fit_calibration([r for r in rows if r.correct][:50], fitted_on="all correct")


def test_rows_from_pipeline_round_trip(tmp_path: Path) -> None:
    pipe = fake_pipeline(k=3)
    qs = [Question("1", "What is the capital of Germany?", ("Berlin",)), Question("2", "zzz qqq", ("x",))]
    results = pipe.ask_detailed([q.question for q in qs], top_n=5)
    rows = answer_rows(qs, results, regex=False)
    assert rows and all(r.qid == "1" for r in rows)  # the unanswered question has no rows
    assert rows[0].correct == 1.0 and rows[0].rank == 1 and len(rows[0].features) == len(FEATURES)
    write_rows(tmp_path / "f.jsonl", rows)
    assert read_rows(tmp_path / "f.jsonl") == rows
    (tmp_path / "bad.jsonl").write_text('{"features": ["x"]}\n')
    with pytest.raises(DataFormatError):
        read_rows(tmp_path / "bad.jsonl")


def test_plots_write_png(tmp_path: Path) -> None:
    conf, ok = np.array([0.1, 0.5, 0.9]), np.array([0.0, 1.0, 1.0])
    assert plot_reliability([("x", conf, ok)], tmp_path / "r.png").read_bytes()[:8] == PNG
    assert plot_precision_coverage([("x", conf, ok)], tmp_path / "p.png", 0.5).read_bytes()[:8] == PNG
    out = plot_n_docs_curve([(5, 30.0, 90.0), (10, 33.0, 160.0)], tmp_path / "n.png", 300.0)
    assert out.read_bytes()[:8] == PNG


def test_shipped_unanswerable_questions() -> None:
    from drqa_ng.evaluation.datasets import load_questions

    path = Path(__file__).resolve().parents[3] / "drqa_ng" / "evaluation" / "data" / "unanswerable.jsonl"
    qs = load_questions(path)
    assert len(qs) >= 50 and len({q.question for q in qs}) == len(qs)
    assert all(q.answers == () for q in qs)
