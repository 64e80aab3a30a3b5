"""Read-more sweep report: EM (answers ranked by the calibrated confidence) and latency per n_docs.

    python scripts/report_n_docs.py RUN_DIR [--calibration FILE] [--budget-ms 300] [--cpu]

Reads RUN_DIR/train-n<N>/predictions.jsonl + features.jsonl written by ``scripts/fit_calibration.sh``
(``drqa-ng eval --features -k N``; runs of different sizes over one seeded sample share their
first questions, so each run is also compared with the smallest-n run on its own questions), prints a Markdown table and writes
RUN_DIR/n_docs.png and n_docs.md. EM columns: top answer by its best span's score (before aggregation),
by the summed span probability, and by the calibrated confidence (what the pipeline ranks by). The
suggested default is the n with the best calibrated EM whose p50 latency is within the budget.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drqa_ng.confidence import Calibration
from drqa_ng.evaluation.calibration import read_rows, top_answers
from drqa_ng.evaluation.plots import plot_n_docs_curve
from drqa_ng.evaluation.qa import percentile_ms


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
    runs = sorted(args.run.glob("train-n*"), key=lambda p: int(p.name.removeprefix("train-n")))
    runs = [d for d in runs if (d / "features.jsonl").is_file()]
    preds = {d: [json.loads(x) for x in (d / "predictions.jsonl").read_text().splitlines()] for d in runs}
    base = runs[0] if runs else None  # the smallest n: its run is compared on each run's own questions
    rows = []
    for d in runs:
        m = json.loads((d / "metrics.json").read_text())
        n = int(m["k"] if "k" in m else m["n_docs"])  # "n_docs" in runs before the one vocabulary
        ps = preds[d]
        ids = {p["id"] for p in ps}
        q = len(ps)

        def em(run: Path, ids: set[str] = ids, q: int = q) -> float:
            feats = [r for r in read_rows(run / "features.jsonl") if r.qid in ids]
            return 100.0 * float(top_answers(feats, cal)[1].sum()) / q

        feats = [r for r in read_rows(d / "features.jsonl") if r.qid in ids]
        em_span = 100.0 * float(top_answers(feats, None, by_score=True)[1].sum()) / q
        em_mass = 100.0 * float(top_answers(feats, None)[1].sum()) / q
        recall = 100.0 * float(np.mean([0 < p["hit_rank"] <= n for p in ps]))
        wall = percentile_ms([p["seconds"] for p in ps], 50)
        cpu = percentile_ms([p.get("cpu_seconds", 0.0) for p in ps], 50)
        rows.append((n, q, em_span, em_mass, em(d), em(base) if base is not None else 0.0, recall, wall, cpu))
    lines = [
        "| n paragraphs | questions | EM best span | EM summed span mass | EM calibrated "
        "| EM calibrated at the smallest n, same questions | answer recall@n | wall p50 ms | CPU p50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {q} | {a:.1f} | {b:.1f} | {c:.1f} | {c0:.1f} | {r:.1f} | {w:.0f} | {u:.0f} |"
        for n, q, a, b, c, c0, r, w, u in rows
    ]
    ok_rows = [r for r in rows if r[8 if args.cpu else 7] <= args.budget_ms]
    best = max(ok_rows, key=lambda r: (r[4], -r[0])) if ok_rows else None
    lines.append("")
    lines.append(
        f"best calibrated EM within {'CPU' if args.cpu else 'wall'} p50 <= {args.budget_ms:.0f} ms: "
        + (f"n = {best[0]} (EM {best[4]:.1f})" if best else "none")
    )
    text = "\n".join(lines)
    print(text)
    (args.run / "n_docs.md").write_text(text + "\n", encoding="utf-8")
    points = [(int(r[0]), r[4], r[8] if args.cpu else r[7]) for r in rows]
    label = "CPU p50 ms per question" if args.cpu else "wall p50 ms per question"
    plot_n_docs_curve(
        points,
        args.run / "n_docs.png",
        args.budget_ms,
        latency_label=label,
        baseline=[r[5] for r in rows],
        questions=[int(r[1]) for r in rows],
    )


if __name__ == "__main__":
    main()
