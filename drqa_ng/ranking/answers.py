"""A learned answer ranker: which of a question's merged candidate answers is right?

The pipeline's own order is the reader's logit in all but name (the retriever adds a norm in [0, 1]
to a logit of ~10), so a confident span in an off-topic paragraph wins. This ranker scores each
merged answer a (``pipeline.rank_answers`` output) with a logistic regression over ``FEATURES``:

- ``logit_prob``: logit of P_a, the softmax mass of a's spans (``drqa_ng.confidence``)
- ``reader``: the best span's reader logit; ``prob_gap``: P_a - max_{b≠a} P_b
- ``retriever``, ``log_rank``: the norm and log rank of the evidence the best span came from
- ``para``, ``log_para_rank``: the paragraph retriever's ratio-to-best score and log(1 + rank)
  (rank = depth + 1 when the paragraph came from article expansion only)
- ``doc``, ``log_doc_rank``, ``named``, ``title``, ``words``: the article signals of that passage
  (``retrieval.articles``)
- ``log_spans``, ``log_passages``: log of the number of spans / distinct passages merged into a
- ``type_wanted``, ``type_fit``: the question asks for a number ("how many"), a year or date
  ("what year", "when") or a person ("who"), and whether a's text has that shape (a digit or number
  word; a year, month or century; a capitalised name without digits)

    z_a = b + Σ_i w_i (x_ai - μ_i) / σ_i                 (the ranking score)
    confidence_a = σ(α z_a + β)                           (Platt scaling on top of z)

Both are fit on train splits only (``scripts/fit_answer_ranker.py``) and stored as plain numbers in
``answer_ranker.json`` (``RankerWeights``) beside the reader, as its ``calibration.json`` is. The
pipeline uses it where its retriever gives article signals (``retrieval.articles.ArticleRanker``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from drqa_ng.confidence import logit
from drqa_ng.errors import IndexFormatError
from drqa_ng.logistic import load_model_json, logistic_fields, save_model_json, sigmoid, standardised_logit
from drqa_ng.retrieval.articles import PassageSignals
from drqa_ng.types import Answer

KIND = "answer-ranker"
FORMAT_VERSION = 1
RANKER_FILE = "answer_ranker.json"
FEATURES = (
    "logit_prob",
    "reader",
    "prob_gap",
    "retriever",
    "log_rank",
    "para",
    "log_para_rank",
    "doc",
    "log_doc_rank",
    "named",
    "title",
    "words",
    "log_spans",
    "log_passages",
    "type_wanted",
    "type_fit",
)
UNRANKED = 200  # rank given to a paragraph or article the retriever did not return

_NUMBER_Q = re.compile(
    r"\bhow (many|much|long|old|far|tall|big|large|high|deep|fast)\b|\bwhat (number|percentage)\b"
)
_YEAR_Q = re.compile(r"\b(what|which) year\b|\bwhen\b|\bwhat date\b")
_WHO_Q = re.compile(r"^\s*(who|whom|whose)\b|\bwho (is|was|were|are|did|does|played|plays|wrote|invented)\b")
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen"
)
_NUMBER_A = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE)
_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"
_YEAR_A = re.compile(rf"\b\d{{3,4}}s?\b|\b({_MONTHS})\b|\bcentury\b|\b(bc|ad|bce|ce)\b", re.IGNORECASE)
_NAME_A = re.compile(r"^[^\W\d_][\w'.-]*(\s+[\w'.-]+)*$")


def answer_type(question: str) -> str:
    """ "number", "year" or "person" when the question asks for one, else ""."""
    q = question.lower()
    if _NUMBER_Q.search(q):
        return "number"
    if _YEAR_Q.search(q):
        return "year"
    if _WHO_Q.search(q):
        return "person"
    return ""


def type_fits(kind: str, text: str) -> bool:
    """Whether ``text`` has the shape of ``kind`` (see the module docstring); False for no kind."""
    t = text.strip()
    if kind == "number":
        return bool(_NUMBER_A.search(t))
    if kind == "year":
        return bool(_YEAR_A.search(t))
    if kind == "person":
        return bool(t) and t[0].isupper() and not any(c.isdigit() for c in t) and bool(_NAME_A.match(t))
    return False


def _log_rank(rank: int) -> float:
    return math.log1p(rank if rank > 0 else UNRANKED)


def ranker_features(
    question: str, answers: Sequence[Answer], signals: Mapping[str, PassageSignals]
) -> np.ndarray:
    """``(len(answers), len(FEATURES))`` rows for one question's merged answers; ``signals`` by
    passage id (a passage without any gets ``PassageSignals()`` with its retriever norm as ``para``)."""
    kind = answer_type(question)
    probs = [a.span_prob for a in answers]
    rows = []
    for i, a in enumerate(answers):
        s = signals.get(a.passage.id) or PassageSignals(para=a.retriever_score, para_rank=a.retriever_rank)
        others = max((p for j, p in enumerate(probs) if j != i), default=0.0)
        spans = a.support.count if a.support is not None else 1
        passages = len(a.support.passage_ids) if a.support is not None else 1
        rows.append(
            [
                logit(a.span_prob),
                a.reader_score,
                a.span_prob - others,
                a.retriever_score,
                math.log(max(a.retriever_rank, 1)),
                s.para,
                _log_rank(s.para_rank),
                s.doc,
                _log_rank(s.doc_rank),
                s.named,
                s.title,
                s.words,
                math.log(max(spans, 1)),
                math.log(max(passages, 1)),
                1.0 if kind else 0.0,
                1.0 if type_fits(kind, a.text) else 0.0,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(answers), len(FEATURES))


@dataclass(frozen=True, slots=True)
class RankerWeights:
    """A fitted ranker (standardised logistic regression) and the Platt scaling on its score;
    ``threshold``: abstain below this confidence (chosen on the fitting split)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    platt_a: float = 1.0
    platt_b: float = 0.0
    threshold: float = 0.0
    fitted_on: str = ""
    report: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.features) != FEATURES:
            raise IndexFormatError(
                f"answer ranker features {list(self.features)} are not this version's; refit it "
                "(scripts/fit_answer_ranker.py)"
            )
        if not (len(self.mean) == len(self.scale) == len(self.coef) == len(FEATURES)):
            raise IndexFormatError("answer ranker: features, mean, scale and coef differ in length")
        if not 0.0 <= self.threshold <= 1.0:
            raise IndexFormatError(f"answer ranker threshold {self.threshold} is outside [0, 1]")

    def score(self, x: np.ndarray) -> np.ndarray:
        """z = b + Σ_i w_i (x_i - μ_i) / σ_i per row."""
        return standardised_logit(x, self.mean, self.scale, self.coef, self.intercept)

    def confidence(self, z: np.ndarray) -> np.ndarray:
        """σ(α z + β): the calibrated probability that an answer with score z is right."""
        return sigmoid(self.platt_a * np.asarray(z, dtype=np.float64) + self.platt_b)

    def save(self, folder: Path) -> Path:
        """Write ``folder/answer_ranker.json`` (temp file renamed into place)."""
        return save_model_json(Path(folder) / RANKER_FILE, KIND, FORMAT_VERSION, asdict(self))

    @classmethod
    def load(cls, folder: Path) -> RankerWeights | None:
        """``folder/answer_ranker.json``, or None when absent; a bad file raises IndexFormatError."""
        return load_model_json(
            Path(folder) / RANKER_FILE,
            KIND,
            FORMAT_VERSION,
            lambda d: cls(
                **logistic_fields(d),
                platt_a=float(d["platt_a"]),
                platt_b=float(d["platt_b"]),
                threshold=float(d["threshold"]),
            ),
        )


def rerank(
    question: str,
    answers: Sequence[Answer],
    signals: Mapping[str, PassageSignals],
    weights: RankerWeights,
) -> list[Answer]:
    """``answers`` with ``score`` = the ranker's z and ``confidence`` = σ(α z + β), best first
    (ties: passage id, offset)."""
    from dataclasses import replace

    if not answers:
        return []
    z = weights.score(ranker_features(question, answers, signals))
    conf = weights.confidence(z)
    out = [replace(a, score=float(s), confidence=float(c)) for a, s, c in zip(answers, z, conf, strict=True)]
    out.sort(key=lambda a: (-a.score, a.passage.id, a.start))
    return out
