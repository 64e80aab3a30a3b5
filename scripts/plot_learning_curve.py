"""Learning curve of reader training runs: dev F1 (and EM) against training windows seen, as a PNG.

    python scripts/plot_learning_curve.py RUN/stage1/log.jsonl [RUN/stage2/log.jsonl ...] \
        --start-windows 23200 --out curve.png

Logs are stages of one recipe, in order: each stage's windows are counted after the previous
stage's last logged count; with ``--branches`` they are alternative runs from the same starting model
(e.g. continuations of the shipped reader on different mixes), each counted from ``--start-windows``.
``--start-windows`` is what the starting model had already seen (e.g. the shipped reader a run was
warm-started from). ``--fit`` adds a least-squares line F1 = a + b log10(windows)
over the points and prints where it would reach ``--target`` F1 (an extrapolation, not a promise).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def read_points(
    logs: list[Path], start: float | list[float], branches: bool = False
) -> list[tuple[float, float, float, str]]:
    """(windows seen, dev F1, dev EM, stage name) for every dev evaluation in ``logs``: stages chained one
    after the other, or with ``branches`` separate runs that each start at ``start`` (one number for
    all, or one per log: e.g. a teacher from 0 beside a student warm-started from a trained reader)."""
    starts = start if isinstance(start, list) else [start]
    if branches and len(starts) not in (1, len(logs)):
        raise SystemExit(f"--start-windows: one value or one per log ({len(logs)}), got {len(starts)}")
    points = []
    offset = starts[0]
    for i, log in enumerate(logs):
        if branches:
            offset = starts[i if len(starts) > 1 else 0]
        last = 0.0
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            seen = float(rec.get("windows_seen", last))
            last = max(last, seen)
            if "dev" in rec:
                points.append((offset + seen, rec["dev"]["f1"], rec["dev"]["exact_match"], log.parent.name))
        offset += last
    return points


def fit_log(points: list[tuple[float, float, float, str]]) -> tuple[float, float] | None:
    """Least squares F1 = a + b log10(windows) over ``points``; None with fewer than 3 points."""
    xs = [math.log10(p[0]) for p in points if p[0] > 0]
    ys = [p[1] for p in points if p[0] > 0]
    if len(xs) < 3:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - b * mx, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", type=Path, nargs="+", metavar="LOG_JSONL")
    ap.add_argument("--out", type=Path, required=True, metavar="PNG")
    ap.add_argument(
        "--start-windows",
        type=float,
        nargs="+",
        default=[0.0],
        help="windows the starting model had seen; with --branches one per log may be given",
    )
    ap.add_argument(
        "--branches",
        action="store_true",
        help="the logs are alternative runs from the same start (each begins at --start-windows), not stages",
    )
    ap.add_argument("--title", default="Reader: dev F1 vs training windows seen")
    ap.add_argument(
        "--reference", type=float, action="append", default=[], metavar="F1", help="horizontal line"
    )
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--target", type=float, default=79.0)
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not args.branches and len(args.start_windows) > 1:
        raise SystemExit("several --start-windows values need --branches")
    points = read_points(args.logs, list(args.start_windows), args.branches)
    if not points:
        raise SystemExit("no dev evaluations in the logs")
    fig, ax = plt.subplots(figsize=(8, 5))
    for stage in dict.fromkeys(p[3] for p in points):
        sel = [p for p in points if p[3] == stage]
        ax.plot([p[0] for p in sel], [p[1] for p in sel], "o-", label=f"{stage} F1")
        ax.plot([p[0] for p in sel], [p[2] for p in sel], "x--", alpha=0.6, label=f"{stage} EM")
    for ref in args.reference:
        ax.axhline(ref, color="grey", linestyle=":", linewidth=1)
    print("| windows seen | dev F1 | dev EM | stage |\n|---:|---:|---:|---|")
    for w, f1, em, stage in points:
        print(f"| {w:,.0f} | {f1:.2f} | {em:.2f} | {stage} |")
    if args.fit and (ab := fit_log(points)) is not None:
        a, b = ab
        xs = [min(p[0] for p in points), max(p[0] for p in points) * 4]
        ax.plot(xs, [a + b * math.log10(x) for x in xs], ":", color="black", label="fit a + b log10(w)")
        if b > 0:
            print(
                f"fit: F1 = {a:.2f} + {b:.2f} log10(windows); F1 {args.target} at ~{10 ** ((args.target - a) / b):,.0f} windows"
            )
        else:
            print(f"fit: F1 = {a:.2f} + {b:.2f} log10(windows) (not rising)")
    ax.set_xscale("log")
    ax.set_xlabel("training windows seen (log scale)")
    ax.set_ylabel("dev sample score (%)")
    ax.set_title(args.title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
