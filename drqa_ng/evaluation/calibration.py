"""Fitting and measuring answer confidence: per-answer feature rows, the logistic fit, ECE, coverage.

- ``answer_rows``: one row per ranked answer of each evaluated question (its ``drqa_ng.confidence``
  features and whether it is correct: SQuAD EM, or regex match for CuratedTREC).
- ``fit_calibration``: logistic regression (scikit-learn, L2, C=1) on standardised features of the
  ``max_rank`` best answers of every question; the result is a plain-number ``Calibration``.
- ``expected_calibration_error``: ECE = Σ_b (|B_b| / n) · |acc(B_b) - conf(B_b)| over ``bins`` equal-
  width confidence bins (Guo et al. 2017, "On Calibration of Modern Neural Networks", eq. 3).
- ``precision_coverage``: answer the questions whose top confidence is ≥ t; for every t, coverage =
  answered / all and precision = correct answered / answered (selective QA, Kamath et al. 2020).
- ``choose_threshold``: the lowest threshold whose answered precision on the fitting split reaches
  ``target_precision`` (the answers the system does give are right at least that often).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from drqa_ng.confidence import FEATURES, Calibration, answer_features
from drqa_ng.errors import DataFormatError, InputError, NotFoundError
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.metrics import answer_match
from drqa_ng.pipeline import QAResult

DEFAULT_TARGET_PRECISION = 0.5
DEFAULT_MAX_RANK = 5


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One ranked answer of one question: ``features`` in ``drqa_ng.confidence.FEATURES`` order."""

    qid: str
    rank: int
    text: str
    correct: float
    features: tuple[float, ...]
    span_prob: float
    confidence: float


def answer_rows(questions: Sequence[Question], results: Sequence[QAResult], regex: bool) -> list[AnswerRow]:
    """Feature rows of every answer in ``results`` (ask with ``top_n`` > 1 to get the runners-up)."""
    rows: list[AnswerRow] = []
    for q, r in zip(questions, results, strict=True):
        if not r.answers:
            continue
        feats = answer_features(r.answers)
        for i, (a, x) in enumerate(zip(r.answers, feats, strict=True), 1):
            ok = answer_match(a.text, q.answers, regex)
            rows.append(
                AnswerRow(
                    q.id, i, a.text, ok, tuple(float(v) for v in x), a.span_prob, float(a.confidence or 0.0)
                )
            )
    return rows


def write_rows(path: Path, rows: Sequence[AnswerRow]) -> None:
    """One JSON object a line; the first line names the feature order."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"features": list(FEATURES)}) + "\n")
        for row in rows:
            f.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")


def read_rows(path: Path) -> list[AnswerRow]:
    """Rows written by ``write_rows``; a file of other features raises DataFormatError."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"feature file not found: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        head = json.loads(lines[0]) if lines else {}
        if head.get("features") != list(FEATURES):
            raise DataFormatError(f"{path}: features {head.get('features')} differ from {list(FEATURES)}")
        out = []
        for line in lines[1:]:
            d = json.loads(line)
            out.append(AnswerRow(**{**d, "features": tuple(d["features"])}))
        return out
    except (json.JSONDecodeError, TypeError, AttributeError) as e:
        raise DataFormatError(f"{path}: not a feature file written by `drqa-ng eval --features`: {e}") from e


def by_question(rows: Sequence[AnswerRow]) -> dict[str, list[AnswerRow]]:
    out: dict[str, list[AnswerRow]] = {}
    for r in rows:
        out.setdefault(r.qid, []).append(r)
    return out


def top_answers(
    rows: Sequence[AnswerRow], calibration: Calibration | None, by_score: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) of each question's top answer when its answers are ranked by ``calibration``
    (by the stored row confidence when ``None``; by the best span's raw score, the ranking before
    aggregation, when ``by_score``); what the user sees as the first answer."""
    conf, correct = [], []
    score_col = FEATURES.index("score")
    for group in by_question(rows).values():
        if calibration is not None:
            c = calibration.predict(np.asarray([r.features for r in group]))
        else:
            c = np.asarray([r.confidence for r in group])
        key = np.asarray([r.features[score_col] for r in group]) if by_score else c
        i = int(np.argmax(key))  # first maximum: ties keep the stored rank order
        conf.append(float(c[i]))
        correct.append(group[i].correct)
    return np.asarray(conf), np.asarray(correct)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Σ_b (|B_b| / n) · |mean(correct in B_b) - mean(confidence in B_b)|, equal-width bins on [0, 1]."""
    conf, ok = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return 0.0
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(ok[m].mean() - conf[m].mean())
    return float(ece)


def reliability_bins(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin: mean confidence, accuracy and count (NaN means for empty bins)."""
    conf, ok = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=bins) / counts
        acc = np.bincount(idx, weights=ok, minlength=bins) / counts
    return mean_conf, acc, counts


def precision_coverage(
    confidence: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (descending confidences), coverage and answered precision when answering conf ≥ t."""
    conf, ok = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    order = np.argsort(-conf, kind="stable")
    answered = np.arange(1, conf.size + 1)
    return conf[order], answered / max(conf.size, 1), np.cumsum(ok[order]) / answered


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target_precision: float) -> float:
    """Lowest t such that the questions with top confidence ≥ t are answered with precision ≥ target.

    1.0 (always abstain) when no threshold reaches the target."""
    thresholds, _, precision = precision_coverage(confidence, correct)
    ok = np.nonzero(precision >= target_precision)[0]
    if ok.size == 0:
        return 1.0
    return float(round(thresholds[ok[-1]], 4))


def fit_calibration(
    rows: Sequence[AnswerRow],
    *,
    fitted_on: str,
    max_rank: int = DEFAULT_MAX_RANK,
    target_precision: float = DEFAULT_TARGET_PRECISION,
) -> Calibration:
    """Logistic regression of correctness on the standardised features of each question's
    ``max_rank`` best answers; the threshold is chosen on the same rows with ``choose_threshold``."""
    from sklearn.linear_model import LogisticRegression

    train = [r for r in rows if r.rank <= max_rank]
    y = np.asarray([r.correct for r in train]) > 0.5
    if len(train) < 10 or y.all() or not y.any():
        raise InputError(f"need ≥ 10 answers with both correct and wrong ones to fit, got {len(train)}")
    x = np.asarray([r.features for r in train], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    cal = Calibration(
        features=FEATURES,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=0.0,
        fitted_on=fitted_on,
    )
    conf, correct = top_answers(rows, cal)
    threshold = choose_threshold(conf, correct, target_precision)
    return Calibration(
        cal.features,
        cal.mean,
        cal.scale,
        cal.coef,
        cal.intercept,
        threshold,
        fitted_on,
        {
            "answers": len(train),
            "questions": int(conf.size),
            "max_rank": max_rank,
            "target_precision": target_precision,
            "train_ece": expected_calibration_error(conf, correct),
            "train_em": 100.0 * float(correct.mean()),
            "train_coverage_at_threshold": float((conf >= threshold).mean()),
        },
    )
