"""Answer confidence: span probabilities, answer features and the calibration that maps them to P(correct).

For one question with candidate spans c (all spans the reader proposed over all passages read), each with
the raw ranking score ``s_c = reader_score_c + w · norm(retriever_score_c)``:

    p_c = exp(s_c) / Σ_c' exp(s_c')            (softmax over every candidate span of the question, as
                                               DrQA / BERTserini normalise span scores across passages)
    P_a = Σ_{c merged into a} p_c              (DrQA-style aggregation: spans with the same SQuAD-
                                               normalised text are one answer; their mass adds up)

An answer's features (``FEATURES``) are logit(P_a), its best span's raw score, that span's retriever norm,
log of the hit rank it came from, log of the number of distinct supporting passages and the gap
P_a - max_{b≠a} P_b. The calibration is a logistic regression over standardised features (Platt scaling
with several inputs; Platt 1999, "Probabilistic outputs for SVMs"):

    confidence_a = σ(b + Σ_i w_i (x_i - μ_i) / σ_i),   σ(z) = 1 / (1 + e^-z)

fitted on a train split (``drqa_ng.evaluation.calibration``) and stored as ``calibration.json`` beside
the reader (plain numbers). Without one, ``confidence = P_a`` (a probability, but uncalibrated) and the
pipeline never abstains. An answer list abstains when its best confidence is below ``threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from drqa_ng.errors import IndexFormatError
from drqa_ng.logistic import load_model_json, logistic_fields, save_model_json, sigmoid, standardised_logit
from drqa_ng.types import Answer

CALIBRATION_FILE = "calibration.json"
CALIBRATION_KIND = "answer-calibration"
CALIBRATION_VERSION = 1
FEATURES = ("logit_prob", "score", "retriever_norm", "log_rank", "log_passages", "prob_gap")
LOGIT_CLIP = 12.0


def softmax(scores: Sequence[float]) -> np.ndarray:
    """exp(s_i - max s) / Σ_j exp(s_j - max s): a probability vector (empty in, empty out)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    e = np.exp(s - s.max())
    return e / e.sum()


def logit(p: float) -> float:
    """log(p / (1 - p)), clipped to ±``LOGIT_CLIP`` so p = 0 or 1 stay finite."""
    p = min(max(float(p), 1e-12), 1.0 - 1e-12)
    return float(np.clip(math.log(p / (1.0 - p)), -LOGIT_CLIP, LOGIT_CLIP))


def answer_features(answers: Sequence[Answer]) -> np.ndarray:
    """The ``(len(answers), len(FEATURES))`` feature matrix of one question's merged answers.

    Each answer must carry ``span_prob`` (P_a), ``score``, ``retriever_score``, ``retriever_rank`` and
    ``support``; the gap is taken against the other answers of the same list.
    """
    probs = [a.span_prob for a in answers]
    rows = []
    for i, a in enumerate(answers):
        others = max((p for j, p in enumerate(probs) if j != i), default=0.0)
        passages = len(a.support.passage_ids) if a.support is not None else 1
        rows.append(
            [
                logit(a.span_prob),
                a.score,
                a.retriever_score,
                math.log(max(a.retriever_rank, 1)),
                math.log(max(passages, 1)),
                a.span_prob - others,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(answers), len(FEATURES))


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted logistic calibration (see the module docstring) and the abstention threshold.

    ``threshold``: an answer list whose best confidence is below it abstains ("no confident answer");
    chosen on the split named in ``fitted_on``. ``report`` holds the fit's numbers (plain JSON values).
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    fitted_on: str = ""
    report: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise IndexFormatError("calibration: features, mean, scale and coef differ in length")
        if tuple(self.features) != FEATURES:
            raise IndexFormatError(
                f"calibration features {list(self.features)} are not this version's {list(FEATURES)}; "
                "refit it (scripts/fit_calibration.sh)"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise IndexFormatError(f"calibration threshold {self.threshold} is outside [0, 1]")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """σ(b + Σ_i w_i (x_i - μ_i) / σ_i) for each row of ``x`` (shape ``(n, len(features))``)."""
        return sigmoid(standardised_logit(x, self.mean, self.scale, self.coef, self.intercept))

    def to_json(self) -> dict[str, object]:
        return {"kind": CALIBRATION_KIND, "format_version": CALIBRATION_VERSION, **asdict(self)}

    def save(self, folder: Path) -> Path:
        """Write ``folder/calibration.json`` (temp file renamed into place)."""
        return save_model_json(
            Path(folder) / CALIBRATION_FILE, CALIBRATION_KIND, CALIBRATION_VERSION, asdict(self)
        )

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        """``folder/calibration.json``, or ``None`` when the folder has none; bad files raise IndexFormatError."""
        return load_model_json(
            Path(folder) / CALIBRATION_FILE,
            CALIBRATION_KIND,
            CALIBRATION_VERSION,
            lambda d: cls(**logistic_fields(d), threshold=float(d["threshold"])),
        )


def confidences(answers: Sequence[Answer], calibration: Calibration | None) -> list[float]:
    """Each answer's confidence in [0, 1]: the calibrated probability, or ``span_prob`` without a calibration."""
    if not answers:
        return []
    if calibration is None:
        return [float(min(max(a.span_prob, 0.0), 1.0)) for a in answers]
    return [float(c) for c in calibration.predict(answer_features(answers))]


def abstains(answers: Sequence[Answer], threshold: float) -> bool:
    """True when there is no answer or the best confidence is below ``threshold`` (None counts as 0)."""
    best = max((a.confidence or 0.0 for a in answers), default=None)
    return best is None or best < threshold
