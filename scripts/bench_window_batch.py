"""Reader window batch: ``ask`` latency and top-answer EM of a data home's pipeline for several
window batch sizes (``ReaderSettings.batch_size``), in the same run on the same questions.

    python scripts/bench_window_batch.py --home ~/.local/share/drqa-ng --sizes 32 4 1 --per-split 150

The reader runs each question's windows sorted by length in calls of at most ``batch_size``, each
padded to its own longest window. The first size is the comparator. Questions are the tune halves
of every question set (``drqa_ng.evaluation.splits``; CuratedTREC by regex), one at a time, the
sizes rotated per question so load changes and caches hit all alike. Prints a Markdown table:
EM per set and their mean, wall p50 / mean per question, and the p50 ratio to the comparator.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.metrics import exact_match, regex_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, sampled_halves
from drqa_ng.pipeline import QAPipeline
from drqa_ng.reading.reader import SpanReader


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="data home (default: the one the CLI uses)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 4, 1], help="the first is the comparator")
    ap.add_argument("--per-split", type=int, default=150)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    args = ap.parse_args()
    if any(b < 1 for b in args.sizes):
        raise SystemExit("--sizes must be >= 1")
    data = shared_data_dir()
    if data is None:
        raise SystemExit("set DRQA_NG_DATA or put the shared data beside the checkout")
    sets = sampled_halves(data, args.per_split, sets=tuple(args.sets))
    pipe = QAPipeline.from_home(args.home)
    reader = pipe.reader
    if not isinstance(reader, SpanReader):
        raise SystemExit(f"the home's reader is a {type(reader).__name__}, not a SpanReader")
    base, sizes = reader.settings, list(args.sizes)
    em: dict[int, dict[str, float]] = {b: {} for b in sizes}
    wall: dict[int, list[float]] = {b: [] for b in sizes}
    for name, halves in sets.items():
        regex, qs = name in REGEX_SETS, halves["tune"]
        hits = dict.fromkeys(sizes, 0)
        for i, q in enumerate(qs):
            for b in sizes[i % len(sizes) :] + sizes[: i % len(sizes)]:
                reader.settings = dataclasses.replace(base, batch_size=b)
                t = time.perf_counter()
                [res] = pipe.ask_detailed([q.question], 1)
                wall[b].append(time.perf_counter() - t)
                if res.answers:
                    text = res.answers[0].text
                    hits[b] += bool(regex_match(text, q.answers) if regex else exact_match(text, q.answers))
        for b in sizes:
            em[b][name] = 100 * hits[b] / max(len(qs), 1)
    reader.settings = base
    names = list(sets)
    p50_0 = float(np.median(wall[sizes[0]]))
    print(f"{sum(len(h['tune']) for h in sets.values())} tune-half questions, k = the home's default\n")
    print(
        "| window batch | "
        + " | ".join(f"EM {n}" for n in names)
        + " | mean EM | p50 ms | mean ms | p50 ratio |"
    )
    print("|---" * (len(names) + 5) + "|")
    for b in sizes:
        p50 = float(np.median(wall[b]))
        cells = " | ".join(f"{em[b][n]:.1f}" for n in names)
        print(
            f"| {b} | {cells} | {np.mean([em[b][n] for n in names]):.2f} | {1000 * p50:.0f} | "
            f"{1000 * np.mean(wall[b]):.0f} | {p50 / p50_0:.2f} |"
        )


if __name__ == "__main__":
    main()
