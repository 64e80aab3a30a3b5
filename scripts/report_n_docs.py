"""Read-more sweep report: EM (answers ranked by the calibrated confidence) and latency per n_docs.

    python scripts/report_n_docs.py RUN_DIR [--calibration FILE] [--budget-ms 300]

Reads RUN_DIR/train-n<N>/metrics.json + features.jsonl written by ``scripts/fit_calibration.sh``,
prints a Markdown table and writes RUN_DIR/n_docs.png and n_docs.md. The suggested default is the n with
the best calibrated EM whose p50 latency is within the budget.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drqa_ng.confidence import Calibration
from drqa_ng.evaluation.calibration import read_rows, top_answers
from drqa_ng.evaluation.plots import plot_n_docs_curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--calibration", type=Path, help="calibration.json (default: rank by raw span mass)")
    ap.add_argument("--budget-ms", type=float, default=300.0)
    ap.add_argument(
        "--cpu",
        action="store_true",
        help="hold the budget against CPU p50 instead of wall p50 (loaded machine)",
    )
    args = ap.parse_args()
    cal = Calibration.load(args.calibration.parent) if args.calibration else None
    rows = []
    for d in sorted(args.run.glob("train-n*"), key=lambda p: int(p.name.removeprefix("train-n"))):
        m = json.loads((d / "metrics.json").read_text())
        feats = read_rows(d / "features.jsonl")
        _, ok = top_answers(feats, cal)
        _, ok_score = top_answers(feats, None, by_score=True)
        em_cal = 100.0 * float(ok.sum()) / m["questions"]  # questions without answers count as wrong
        em_score = 100.0 * float(ok_score.sum()) / m["questions"]
        recall = m["recall_at"].get(f"recall@{m['n_docs']}", 0.0)
        rows.append(
            (
                m["n_docs"],
                m["questions"],
                em_score,
                m["em"],
                em_cal,
                recall,
                m["latency_p50_ms"],
                m["latency_p95_ms"],
                m.get("cpu_p50_ms", 0.0),
            )
        )
    lines = [
        "| n paragraphs | questions | EM best span | EM summed span mass | EM calibrated | answer recall@n "
        "| p50 ms | p95 ms | CPU p50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {q} | {ems:.1f} | {em:.1f} | {emc:.1f} | {r:.1f} | {p50:.0f} | {p95:.0f} | {cpu:.0f} |"
        for n, q, ems, em, emc, r, p50, p95, cpu in rows
    ]
    ok_rows = [r for r in rows if r[8 if args.cpu else 6] <= args.budget_ms]
    best = max(ok_rows, key=lambda r: (r[4], -r[0])) if ok_rows else None
    lines.append("")
    lines.append(
        f"best calibrated EM within {'CPU' if args.cpu else 'wall'} p50 <= {args.budget_ms:.0f} ms: "
        + (f"n = {best[0]} (EM {best[4]:.1f}, p50 {best[6]:.0f} ms)" if best else "none")
    )
    text = "\n".join(lines)
    print(text)
    (args.run / "n_docs.md").write_text(text + "\n", encoding="utf-8")
    plot_n_docs_curve([(r[0], r[4], r[6]) for r in rows], args.run / "n_docs.png", args.budget_ms)


if __name__ == "__main__":
    main()
