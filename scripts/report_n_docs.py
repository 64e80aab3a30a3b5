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
    args = ap.parse_args()
    cal = Calibration.load(args.calibration.parent) if args.calibration else None
    rows = []
    for d in sorted(args.run.glob("train-n*"), key=lambda p: int(p.name.removeprefix("train-n"))):
        m = json.loads((d / "metrics.json").read_text())
        _, ok = top_answers(read_rows(d / "features.jsonl"), cal)
        em_cal = 100.0 * float(ok.sum()) / m["questions"]  # questions without answers count as wrong
        recall = m["recall_at"].get(f"recall@{m['n_docs']}", 0.0)
        rows.append(
            (m["n_docs"], m["questions"], m["em"], em_cal, recall, m["latency_p50_ms"], m["latency_p95_ms"])
        )
    lines = [
        "| n paragraphs | questions | EM (span-mass order) | EM (calibrated order) | answer recall@n | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {q} | {em:.1f} | {emc:.1f} | {r:.1f} | {p50:.0f} | {p95:.0f} |"
        for n, q, em, emc, r, p50, p95 in rows
    ]
    ok_rows = [r for r in rows if r[5] <= args.budget_ms]
    best = max(ok_rows, key=lambda r: (r[3], -r[0])) if ok_rows else None
    lines.append("")
    lines.append(
        f"best calibrated EM within p50 <= {args.budget_ms:.0f} ms: "
        + (f"n = {best[0]} (EM {best[3]:.1f}, p50 {best[5]:.0f} ms)" if best else "none")
    )
    text = "\n".join(lines)
    print(text)
    (args.run / "n_docs.md").write_text(text + "\n", encoding="utf-8")
    plot_n_docs_curve([(r[0], r[3], r[5]) for r in rows], args.run / "n_docs.png", args.budget_ms)


if __name__ == "__main__":
    main()
