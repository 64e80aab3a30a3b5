"""Reader evaluation on SQuAD-style questions: official v1.1 EM/F1 (max over golds) and throughput."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from drqa_ng.normalize import exact_match, f1_score
from drqa_ng.protocols import GoldQuestion, Reader
from drqa_ng.types import Passage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReaderEval:
    """Scores in percent (SQuAD v1.1 EM/F1, max over gold answers); throughput in passages per second."""

    questions: int
    exact_match: float
    f1: float
    seconds: float
    passages_per_s: float


@dataclass(frozen=True, slots=True)
class Prediction:
    id: str
    prediction: str
    exact_match: float
    f1: float


def evaluate_reader(
    reader: Reader, items: Sequence[GoldQuestion], chunk: int = 64
) -> tuple[ReaderEval, list[Prediction]]:
    """Read each item's own paragraph and score the top answer against its golds.

    Questions go to ``reader.read`` ``chunk`` at a time (one passage each), so throughput includes
    tokenisation and decoding, not only the model.
    """
    preds: list[Prediction] = []
    t0 = time.perf_counter()
    for i in range(0, len(items), chunk):
        part = items[i : i + chunk]
        passages = [
            [Passage(id=it.id, doc_id=it.id, title="", text=it.context, start=0, end=len(it.context))]
            for it in part
        ]
        answers = reader.read([it.question for it in part], passages, top_n=1)
        for it, ans in zip(part, answers, strict=True):
            text = ans[0].text if ans else ""
            preds.append(Prediction(it.id, text, exact_match(text, it.answers), f1_score(text, it.answers)))
    secs = time.perf_counter() - t0
    n = len(preds)
    result = ReaderEval(
        questions=n,
        exact_match=100.0 * sum(p.exact_match for p in preds) / max(n, 1),
        f1=100.0 * sum(p.f1 for p in preds) / max(n, 1),
        seconds=secs,
        passages_per_s=n / secs if secs > 0 else 0.0,
    )
    return result, preds
