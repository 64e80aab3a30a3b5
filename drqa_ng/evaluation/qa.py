"""End-to-end QA evaluation: run the pipeline over a question set, score it, tune the retriever weight.

Metrics (all means over questions, in %):
- ``em`` / ``f1``: SQuAD v1.1 official EM and token F1 of the top answer against every gold answer
  (``drqa_ng.evaluation.metrics``).
- ``regex_match``: DrQA's ``--regex`` mode (CuratedTREC): a gold regex matches the top answer.
- ``recall@k``: the reader's evidence holds an answer among the passages of the top-k retrieved
  units (DrQA/DPR ``has_answer``; regex search in regex mode). Paragraphs split from one retrieved
  document share its rank, so for doc indexes this is document-level recall.
- ``abstained``: share of questions the pipeline abstained on (best confidence below its threshold);
  ``answered_em``: EM (regex match in regex mode) over the questions it did answer (selective precision).
- latency: per-question wall time (batch time / batch size; exact latency at ``batch_size=1``),
  reported as p50 / p95 in ms, and questions per second over the whole run; ``cpu_p50_ms``: p50 of the
  process CPU time per question (all threads), which a loaded machine inflates far less than wall time.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.metrics import answer_match, exact_match, f1_score, passage_match, regex_match
from drqa_ng.pipeline import Evidence, QAPipeline, QAResult, rank_answers
from drqa_ng.stages import StageClock
from drqa_ng.types import Answer

log = logging.getLogger(__name__)

DATASETS = ("squad", "webquestions", "curatedtrec", "wikimovies")
REGEX_DATASETS = frozenset({"curatedtrec"})
RECALL_KS = (1, 5, 10, 20, 50, 100)
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


@dataclass(frozen=True, slots=True)
class Prediction:
    """One question's top answer and its scores; ``hit_rank`` is the 1-based rank of the first
    retrieved unit whose passage contains a gold answer (0 when none does)."""

    id: str
    question: str
    golds: tuple[str, ...]
    answer: str
    score: float
    doc_id: str
    title: str
    passage_id: str
    em: float
    f1: float
    regex_match: float
    hit_rank: int
    seconds: float
    confidence: float = 0.0
    abstained: bool = False
    cpu_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class QAMetrics:
    """Aggregate scores of one run (percentages, milliseconds)."""

    dataset: str
    questions: int
    em: float
    f1: float
    regex_match: float | None
    recall_at: tuple[tuple[int, float], ...]
    latency_p50_ms: float
    latency_p95_ms: float
    questions_per_s: float
    answer_weight: float
    k: int
    batch_size: int
    abstained: float = 0.0
    answered_em: float | None = None
    cpu_p50_ms: float = 0.0


def answer_hit_rank(evidence: Sequence[Evidence], golds: Sequence[str], regex: bool) -> int:
    """1-based rank of the best-ranked evidence passage that contains a gold answer; 0 if none."""
    best = 0
    for e in evidence:
        if best and e.rank + 1 >= best:
            continue
        found = passage_match(e.passage.text, golds, regex)
        if found:
            best = e.rank + 1
    return best


def score_prediction(question: Question, result: QAResult, regex: bool) -> Prediction:
    """Score the top answer of ``result`` against the question's golds (pure)."""
    top: Answer | None = result.answers[0] if result.answers else None
    text = top.text if top is not None else ""
    golds = question.answers
    return Prediction(
        id=question.id,
        question=question.question,
        golds=golds,
        answer=text,
        score=top.score if top is not None else 0.0,
        doc_id=top.passage.doc_id if top is not None else "",
        title=top.passage.title if top is not None else "",
        passage_id=top.passage.id if top is not None else "",
        em=exact_match(text, golds) if top is not None else 0.0,
        f1=f1_score(text, golds) if top is not None else 0.0,
        regex_match=regex_match(text, golds) if top is not None and regex else 0.0,
        hit_rank=answer_hit_rank(result.evidence, golds, regex),
        seconds=result.seconds,
        confidence=float(top.confidence or 0.0) if top is not None else 0.0,
        abstained=result.abstained,
        cpu_seconds=result.cpu_seconds,
    )


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The q-th percentile (numpy linear interpolation) of a list of durations, in ms; 0 when empty."""
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if len(seconds) else 0.0


def summarize(
    dataset: str,
    preds: Sequence[Prediction],
    *,
    regex: bool,
    k: int,
    answer_weight: float,
    batch_size: int,
    wall_seconds: float,
) -> QAMetrics:
    """Means ×100 of EM, F1, regex match and recall@r for r ≤ k; latency percentiles."""
    n = len(preds)

    def mean(xs: Sequence[float]) -> float:
        return 100.0 * float(np.mean(xs)) if n else 0.0

    ks = sorted({r for r in RECALL_KS if r <= k} | {k})
    recall = tuple((r, mean([float(0 < p.hit_rank <= r) for p in preds])) for r in ks)
    answered = [p.regex_match if regex else p.em for p in preds if not p.abstained]
    return QAMetrics(
        dataset=dataset,
        questions=n,
        em=mean([p.em for p in preds]),
        f1=mean([p.f1 for p in preds]),
        regex_match=mean([p.regex_match for p in preds]) if regex else None,
        recall_at=recall,
        latency_p50_ms=percentile_ms([p.seconds for p in preds], 50),
        latency_p95_ms=percentile_ms([p.seconds for p in preds], 95),
        questions_per_s=n / wall_seconds if wall_seconds > 0 else 0.0,
        answer_weight=answer_weight,
        k=k,
        batch_size=batch_size,
        abstained=mean([float(p.abstained) for p in preds]),
        answered_em=100.0 * float(np.mean(answered)) if answered else None,
        cpu_p50_ms=percentile_ms([p.cpu_seconds for p in preds], 50),
    )


def run_pipeline(
    pipeline: QAPipeline,
    questions: Sequence[Question],
    *,
    top_n: int = 1,
    batch_size: int = 1,
    progress: Callable[[int], None] | None = None,
    overlap: bool | None = None,
    clock: StageClock | None = None,
) -> tuple[list[QAResult], float]:
    """Ask every question in batches; returns the results and the total wall time in seconds.

    The batches go through ``QAPipeline.ask_stream``: with ``overlap`` (default: the pipeline's) the
    next batch is retrieved and tokenised while the reader reads this one; ``clock`` collects how
    long each stage worked and waited.
    """
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    results: list[QAResult] = []
    t0 = time.perf_counter()
    batches = (
        [q.question for q in questions[lo : lo + batch_size]] for lo in range(0, len(questions), batch_size)
    )
    for done in pipeline.ask_stream(batches, top_n=top_n, overlap=overlap, clock=clock):
        results.extend(done)
        if progress is not None:
            progress(len(done))
    return results, time.perf_counter() - t0


def evaluate_qa(
    pipeline: QAPipeline,
    questions: Sequence[Question],
    *,
    dataset: str = "squad",
    batch_size: int = 1,
    top_n: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Prediction], QAMetrics, list[QAResult]]:
    """Run and score the pipeline on ``questions``; regex matching for CuratedTREC.

    Returns the predictions, the metrics and the raw results (``top_n`` answers each: ask for more
    than one to collect calibration features with ``drqa_ng.evaluation.calibration.answer_rows``).
    """
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if not questions:
        raise InputError("no questions to evaluate (check --articles / --limit)")
    regex = dataset in REGEX_DATASETS
    results, wall = run_pipeline(pipeline, questions, top_n=top_n, batch_size=batch_size, progress=progress)
    preds = [score_prediction(q, r, regex) for q, r in zip(questions, results, strict=True)]
    metrics = summarize(
        dataset,
        preds,
        regex=regex,
        k=pipeline.k,
        answer_weight=pipeline.answer_weight,
        batch_size=batch_size,
        wall_seconds=wall,
    )
    return preds, metrics, results


def tune_weight(
    results: Sequence[QAResult],
    questions: Sequence[Question],
    *,
    regex: bool = False,
    grid: Sequence[float] = WEIGHT_GRID,
) -> tuple[float, tuple[tuple[float, float], ...]]:
    """Pick the retriever weight that maximises EM (regex match in regex mode; F1 breaks ties).

    ``results`` must hold several candidates per question (ask with a large ``top_n``); each is
    re-ranked with ``rank_answers`` for every weight in ``grid``, so the reader runs only once.
    Returns the best weight and the (weight, score %) curve. Use a dev split, never the test split.
    """
    if not grid:
        raise InputError("empty weight grid")
    curve: list[tuple[float, float]] = []
    best_key: tuple[float, float, float] | None = None
    best_w = float(grid[0])
    for w in grid:
        ems, f1s = [], []
        for q, r in zip(questions, results, strict=True):
            top = rank_answers(r.answers, w, 1)
            text = top[0].text if top else ""
            if not top:
                ems.append(0.0)
                f1s.append(0.0)
                continue
            ems.append(answer_match(text, q.answers, regex))
            f1s.append(f1_score(text, q.answers))
        em, f1 = 100.0 * float(np.mean(ems)), 100.0 * float(np.mean(f1s))
        curve.append((float(w), em))
        key = (em, f1, -abs(float(w)))  # prefer the smaller weight on a tie
        if best_key is None or key > best_key:
            best_key, best_w = key, float(w)
    return best_w, tuple(curve)


def write_predictions(path: Path, preds: Sequence[Prediction]) -> None:
    """One JSON object a line, in question order."""
    with open(path, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")


def metrics_dict(metrics: QAMetrics) -> dict[str, object]:
    """JSON-ready form of ``QAMetrics`` (recall as ``{"recall@k": value}``)."""
    d = asdict(metrics)
    d["recall_at"] = {f"recall@{k}": v for k, v in metrics.recall_at}
    return d


def write_metrics(path: Path, metrics: QAMetrics, **extra: object) -> None:
    """``metrics.json``: the metrics plus any run parameters given as ``extra``."""
    data = {**metrics_dict(metrics), **extra}
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
