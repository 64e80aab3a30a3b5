"""One end-to-end evaluation run (``drqa-ng eval``): pick the questions, run and score the pipeline,
optionally tune the retriever weight on the same split, and write the run's files.

Files written to ``out``: ``predictions.jsonl`` (``qa.write_predictions``), ``metrics.json`` (the
metrics plus the run's parameters), ``report.png`` and, with ``features``, ``features.jsonl`` (the
input of ``drqa-ng calibrate``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import InputError
from drqa_ng.evaluation.datasets import Question, load_questions
from drqa_ng.evaluation.qa import (
    REGEX_DATASETS,
    QAMetrics,
    evaluate_qa,
    run_pipeline,
    tune_weight,
    write_metrics,
    write_predictions,
)
from drqa_ng.inputs import read_article_list
from drqa_ng.pipeline import PipelineSettings, QAPipeline
from drqa_ng.protocols import Progress

PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.png"
FEATURES_FILE = "features.jsonl"


@dataclass(frozen=True, slots=True)
class QuestionSelection:
    """Which questions of ``file`` to evaluate: those of the ``articles`` list (SQuAD titles), then a
    seeded random ``sample`` of them (file order kept), then the first ``limit``."""

    file: Path
    articles: Path | None = None
    limit: int | None = None
    sample: int | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True)
class EvalOptions:
    """How to run: ``question_batch`` questions per pipeline call (1 = true latency), ``tune`` the
    answer weight on this split first, write ``features`` (every ranked answer's confidence features)."""

    dataset: str
    question_batch: int = 1
    tune: bool = False
    features: bool = False


@dataclass(frozen=True, slots=True)
class EvalRun:
    """What a run measured and wrote: the metrics, the tuned weight and its (weight, EM %) curve when
    ``tune`` was set, the pipeline's abstention threshold and the names of the files written."""

    metrics: QAMetrics
    min_confidence: float
    tuned_weight: float | None
    weight_curve: tuple[tuple[float, float], ...]
    files: tuple[str, ...]


def select_questions(sel: QuestionSelection) -> list[Question]:
    """The questions ``sel`` names; InputError when none are left."""
    if sel.limit is not None and sel.limit < 1:
        raise InputError(f"--limit must be >= 1, got {sel.limit}")
    articles = read_article_list(sel.articles) if sel.articles else None
    questions = load_questions(sel.file, articles)
    if sel.sample is not None and sel.sample < len(questions):
        keep = sorted(random.Random(sel.seed).sample(range(len(questions)), sel.sample))
        questions = [questions[i] for i in keep]
    questions = questions[: sel.limit]
    if not questions:
        raise InputError(
            f"no questions in {sel.file}" + (f" for the articles in {sel.articles}" if articles else "")
        )
    return questions


def run_eval(
    settings: PipelineSettings,
    questions: list[Question],
    sel: QuestionSelection,
    opts: EvalOptions,
    out: Path,
    progress: Progress | None = None,
) -> EvalRun:
    """Load the pipeline of ``settings``, evaluate it on ``questions`` and write the run's files to ``out``."""
    from drqa_ng.evaluation.report import plot_qa_report

    pipe = QAPipeline.from_settings(settings)
    out.mkdir(parents=True, exist_ok=True)
    update: Callable[[int], None] | None = None
    if progress is not None:
        bar = progress

        def update(n: int) -> None:
            bar.update(n)

    regex = opts.dataset in REGEX_DATASETS
    curve: tuple[tuple[float, float], ...] = ()
    tuned: float | None = None
    if opts.tune:
        results, _ = run_pipeline(
            pipe, questions, top_n=pipe.reader_candidates, batch_size=opts.question_batch, progress=update
        )
        tuned, curve = tune_weight(results, questions, regex=regex)
        if progress is not None:
            progress.reset()
    preds, metrics, results = evaluate_qa(
        pipe,
        questions,
        dataset=opts.dataset,
        batch_size=opts.question_batch,
        top_n=pipe.reader_candidates if opts.features else 1,
        progress=update,
    )
    write_predictions(out / PREDICTIONS_FILE, preds)
    files = [PREDICTIONS_FILE, METRICS_FILE, REPORT_FILE]
    if opts.features:
        from drqa_ng.evaluation.calibration import answer_rows, write_rows

        write_rows(out / FEATURES_FILE, answer_rows(questions, results, regex))
        files.append(FEATURES_FILE)
    extra: dict[str, object] = {}
    if tuned is not None:
        extra = {"tuned_weight": tuned, "weight_curve": [list(c) for c in curve]}
    write_metrics(
        out / METRICS_FILE,
        metrics,
        file=str(sel.file),
        articles=str(sel.articles) if sel.articles else None,
        limit=sel.limit,
        sample=sel.sample,
        seed=sel.seed,
        indexes=[str(p) for p in settings.indexes],
        docs=str(settings.docs),
        reader=str(settings.reader) if settings.reader else "shipped",
        min_confidence=pipe.min_confidence,
        calibrated=pipe.calibration is not None,
        **extra,
    )
    plot_qa_report(metrics, preds, out / REPORT_FILE, weight_curve=curve)
    return EvalRun(metrics, pipe.min_confidence, tuned, curve, tuple(files))
