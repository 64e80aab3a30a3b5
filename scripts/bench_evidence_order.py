"""What ordering the evidence by how it reads costs ``ask``: the home's default pipeline with
``evidence_weight`` None (the retriever's order, the comparator) and the default weight, alternated
question by question on the same WebQuestions tune-half questions, one at a time.

The reader appends each passage's best span to its output (``every_passage``) and the pipeline sorts
at most k passages, so the cost should be within noise; this measures it. Prints a Markdown table:
wall p50 / p95 and process-CPU p50 per question, with the p50 ratio to the comparator, and checks
that both give the same answers.

    python scripts/bench_evidence_order.py --home QS [-n 60]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.splits import sampled_halves
from drqa_ng.pipeline import QAPipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="data home (default: the one the CLI uses)")
    ap.add_argument("-n", type=int, default=60, help="questions (WebQuestions tune half)")
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("set DRQA_NG_DATA or put the shared data beside the checkout")
    qs = [q.question for q in sampled_halves(data, args.n, sets=("webquestions",))["webquestions"]["tune"]]
    pipe = QAPipeline.from_home(args.home)
    default = pipe.evidence_weight
    variants = {"retriever order": None, f"reader order (w = {default:g})": default}
    wall: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    pipe.ask_detailed([qs[0]], 1)  # warm-up: sessions, caches
    different = 0
    for i, q in enumerate(qs):
        names = list(variants) if i % 2 == 0 else list(reversed(variants))
        texts: dict[str, list[str]] = {}
        for name in names:
            pipe.evidence_weight = variants[name]
            t, c = time.perf_counter(), time.process_time()
            [res] = pipe.ask_detailed([q], 3)
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            texts[name] = [a.text for a in res.answers]
        different += len({tuple(t) for t in texts.values()}) > 1
    pipe.evidence_weight = default
    base = float(np.median(wall[next(iter(variants))]))
    print(f"{len(qs)} questions, k = {pipe.k}; answers differ on {different}\n")
    print("| evidence | wall p50 ms | wall p95 ms | CPU p50 ms | p50 ratio |")
    print("|---|---|---|---|---|")
    for name in variants:
        p50 = float(np.median(wall[name]))
        print(
            f"| {name} | {1000 * p50:.0f} | {1000 * float(np.percentile(wall[name], 95)):.0f} | "
            f"{1000 * float(np.median(cpu[name])):.0f} | {p50 / base:.2f} |"
        )


if __name__ == "__main__":
    main()
