"""`drqa-ng eval`: end-to-end QA evaluation (EM/F1/regex, recall@k, latency) with a PNG report.

A few lines over ``drqa_ng.evaluation.runner``; this module only parses and prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from drqa_ng.cli.options import pipeline_settings
    from drqa_ng.evaluation.qa import metrics_dict
    from drqa_ng.evaluation.runner import EvalOptions, QuestionSelection, run_eval, select_questions

    sel = QuestionSelection(args.file, args.articles, args.limit, args.sample, args.seed)
    questions = select_questions(sel)
    settings = pipeline_settings(args)
    opts = EvalOptions(args.dataset, args.question_batch, args.tune, args.features)
    bar = tqdm(
        total=len(questions), desc=f"eval {args.dataset}", unit="q", disable=args.quiet, file=sys.stderr
    )
    with bar:
        run = run_eval(settings, questions, sel, opts, args.out, progress=bar)
    metrics = run.metrics
    m = metrics_dict(metrics)
    line = f"{args.dataset}: {metrics.questions} questions  EM {metrics.em:.1f}  F1 {metrics.f1:.1f}"
    if metrics.regex_match is not None:
        line += f"  regex {metrics.regex_match:.1f}"
    print(line)
    print("  " + "  ".join(f"{k} {v:.1f}" for k, v in m["recall_at"].items()))  # type: ignore[attr-defined]
    print(
        f"  latency p50 {metrics.latency_p50_ms:.0f} ms  p95 {metrics.latency_p95_ms:.0f} ms  "
        f"{metrics.questions_per_s:.2f} q/s  CPU p50 {metrics.cpu_p50_ms:.0f} ms  "
        f"(answer weight {metrics.answer_weight}, k={metrics.k})"
    )
    answered = "-" if metrics.answered_em is None else f"{metrics.answered_em:.1f}"
    print(
        f"  abstained {metrics.abstained:.1f}% (min confidence {run.min_confidence:g}), "
        f"EM of the answered {answered}"
    )
    if run.tuned_weight is not None:
        print(f"  tuned weight on this split: {run.tuned_weight} (curve {list(run.weight_curve)})")
    print(f"  wrote {args.out}/" + ", ".join(run.files))
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``eval``."""
    from drqa_ng.cli.options import add_pipeline_options, hidden_alias

    e = sub.add_parser(
        "eval",
        help="batch end-to-end QA evaluation (EM/F1/regex, recall@k, latency) with a PNG report",
        description="Run the pipeline on a question set and write predictions.jsonl, metrics.json and "
        "report.png to --out. CuratedTREC is scored by regex match. --tune also picks the retriever weight "
        "on THIS split (use a dev split, e.g. SQuAD part-A train articles, then pass --answer-weight elsewhere).",
    )
    e.add_argument("--dataset", required=True, choices=("squad", "webquestions", "curatedtrec", "wikimovies"))
    e.add_argument("file", type=Path, metavar="FILE", help="SQuAD JSON or DrQA JSONL question file")
    e.add_argument("--articles", type=Path, help="SQuAD: keep only these article titles (one a line)")
    e.add_argument("--limit", type=int, help="evaluate only the first N questions")
    e.add_argument(
        "--sample", type=int, help="evaluate a seeded random sample of N questions (file order kept)"
    )
    e.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    e.add_argument("--out", type=Path, required=True, help="output folder")
    e.add_argument(
        "--question-batch", type=int, default=1, help="questions per pipeline call (default 1 = true latency)"
    )
    hidden_alias(e, "--batch-size", dest="question_batch", type=int)
    e.add_argument(
        "--tune",
        action="store_true",
        help="also grid-search the answer weight (the retriever's share of an answer's score) on this split",
    )
    e.add_argument(
        "--features",
        action="store_true",
        help="also write features.jsonl: confidence features and correctness of every ranked answer "
        "(input of `drqa-ng calibrate`)",
    )
    add_pipeline_options(e)
    e.set_defaults(func=_eval)
