"""`drqa-ng calibrate`: fit the answer-confidence calibration from `drqa-ng eval --features` runs.

The handler is a few lines over ``drqa_ng.evaluation.calibration`` (fit, ECE, coverage) and
``drqa_ng.evaluation.plots``; ``scripts/fit_calibration.sh`` runs the whole recipe in one command.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def _calibrate(args: argparse.Namespace) -> int:
    from drqa_ng.evaluation.calibration import (
        expected_calibration_error,
        fit_calibration,
        read_rows,
        top_answers,
    )
    from drqa_ng.evaluation.plots import plot_precision_coverage, plot_reliability

    # the same question asked under several settings (one file each) stays several questions
    train = [replace(r, qid=f"{i}:{r.qid}") for i, path in enumerate(args.train) for r in read_rows(path)]
    cal = fit_calibration(
        train,
        fitted_on=args.name or " + ".join(str(p) for p in args.train),
        max_rank=args.max_rank,
        target_precision=args.target_precision,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"train": dict(cal.report), "threshold": cal.threshold}
    curves = [("train (fit)", *top_answers(train, cal))]
    for path in args.eval or []:
        rows = read_rows(path)
        total = _questions_in_run(path)
        conf, ok = _pad(*top_answers(rows, cal), total)
        raw_conf, raw_ok = _pad(*top_answers(rows, None), total)
        answered = conf >= cal.threshold
        report[str(path)] = {
            "questions": int(conf.size),
            "ece": expected_calibration_error(conf, ok),
            "ece_uncalibrated": expected_calibration_error(raw_conf, raw_ok),
            "em": 100.0 * float(ok.mean()) if ok.size else 0.0,
            "em_uncalibrated_order": 100.0 * float(raw_ok.mean()) if raw_ok.size else 0.0,
            "coverage_at_threshold": float(answered.mean()) if conf.size else 0.0,
            "precision_at_threshold": float(ok[answered].mean()) if answered.any() else None,
            "abstained": float(1.0 - answered.mean()) if conf.size else 0.0,
        }
        curves.append((Path(path).parent.name or str(path), conf, ok))
        curves.append((f"{Path(path).parent.name} uncalibrated", raw_conf, raw_ok))
    cal = type(cal)(
        cal.features,
        cal.mean,
        cal.scale,
        cal.coef,
        cal.intercept,
        cal.threshold,
        cal.fitted_on,
        {**cal.report, "eval": {k: v for k, v in report.items() if k not in ("train", "threshold")}},
    )
    cal.save(args.out)
    plot_reliability(curves, args.out / "reliability.png")
    plot_precision_coverage(
        [c for c in curves if "uncalibrated" not in c[0]], args.out / "precision_coverage.png", cal.threshold
    )
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.save_to is not None:
        cal.save(args.save_to)
    print(
        f"fitted on {cal.report['answers']} answers of {cal.report['questions']} questions; threshold {cal.threshold:.3f}"
    )
    for key, r in report.items():
        if key in ("train", "threshold"):
            continue
        prec = r["precision_at_threshold"]
        print(
            f"  {key}: {r['questions']} q  ECE {r['ece']:.3f} (uncalibrated {r['ece_uncalibrated']:.3f})  "
            f"EM {r['em']:.1f}  at threshold: coverage {r['coverage_at_threshold']:.3f}, "
            f"precision {'-' if prec is None else f'{prec:.3f}'}"
        )
    print(
        f"  wrote {args.out}/calibration.json, report.json, reliability.png, precision_coverage.png"
        + (f"; saved to {args.save_to}" if args.save_to is not None else "")
    )
    return 0


def _questions_in_run(features: Path) -> int | None:
    """The run's question count from the metrics.json beside ``features`` (questions without any answer
    have no feature rows but still count: they abstain)."""
    m = Path(features).parent / "metrics.json"
    return int(json.loads(m.read_text())["questions"]) if m.is_file() else None


def _pad(conf: np.ndarray, ok: np.ndarray, total: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Questions without answers join as confidence 0, wrong."""
    import numpy as np

    missing = max(0, (total or 0) - conf.size)
    return np.concatenate([conf, np.zeros(missing)]), np.concatenate([ok, np.zeros(missing)])


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add calibrate."""
    p = sub.add_parser(
        "calibrate",
        help="fit the answer-confidence calibration (and abstention threshold) from eval --features runs",
        description="Fit a logistic calibration of answer correctness on TRAIN (features.jsonl written by "
        "`drqa-ng eval --features`), choose the abstention threshold on it, and report ECE, reliability "
        "diagram and precision/coverage on each --eval split. --save-to writes calibration.json into a "
        "reader folder (the pipeline loads it from there).",
    )
    p.add_argument(
        "train",
        type=Path,
        nargs="+",
        metavar="TRAIN_FEATURES",
        help="features.jsonl of the fitting split (runs)",
    )
    p.add_argument("--eval", type=Path, action="append", metavar="FEATURES", help="held-out features.jsonl")
    p.add_argument("--out", type=Path, required=True, help="output folder (calibration.json, report, PNGs)")
    p.add_argument("--save-to", type=Path, metavar="READER_DIR", help="also write calibration.json there")
    p.add_argument("--name", help="what the fit was on (stored as fitted_on; default: TRAIN's path)")
    p.add_argument(
        "--max-rank", type=int, default=5, help="fit on each question's best N answers (default 5)"
    )
    p.add_argument(
        "--target-precision",
        type=float,
        default=0.5,
        help="threshold = lowest confidence whose answered precision on TRAIN reaches this (default 0.5)",
    )
    p.set_defaults(func=_calibrate)
