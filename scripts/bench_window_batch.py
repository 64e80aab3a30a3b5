"""Reader window batch and k: ``ask`` latency and top-answer EM of a data home's pipeline for several
window batch sizes (``ReaderSettings.batch_size``) and units read (``k``), in the same run on the same
questions.

    python scripts/bench_window_batch.py --home ~/.local/share/drqa-ng --sizes 32 4 1 --per-split 150
    python scripts/bench_window_batch.py --sizes 4 --k 10 15 20
    python scripts/bench_window_batch.py --sizes 4 --calibration both   # answers ordered without it too

The reader runs each question's windows sorted by length in calls of at most ``batch_size``, each
padded to its own longest window. Every (size, k, calibration) triple is a variant; the first is the
comparator. ``--calibration off`` orders answers by their summed span probability instead of the
reader's calibration (which ranks the answers, not only scores them). Questions are the tune halves
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
from drqa_ng.evaluation.metrics import answer_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, sampled_halves
from drqa_ng.pipeline import QAPipeline
from drqa_ng.reading.reader import SpanReader


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="data home (default: the one the CLI uses)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 4, 1], help="the first is the comparator")
    ap.add_argument("--k", type=int, nargs="+", help="units retrieved and read (default: the pipeline's)")
    ap.add_argument("--calibration", choices=("on", "off", "both"), default="on")
    ap.add_argument("--per-split", type=int, default=150)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    args = ap.parse_args()
    if any(b < 1 for b in args.sizes) or any(k < 1 for k in args.k or []):
        raise SystemExit("--sizes and --k must be >= 1")
    data = shared_data_dir()
    if data is None:
        raise SystemExit("set DRQA_NG_DATA or put the shared data beside the checkout")
    sets = sampled_halves(data, args.per_split, sets=tuple(args.sets))
    pipe = QAPipeline.from_home(args.home)
    reader = pipe.reader
    if not isinstance(reader, SpanReader):
        raise SystemExit(f"the home's reader is a {type(reader).__name__}, not a SpanReader")
    base, calibration = reader.settings, pipe.calibration
    cals = {"on": [True], "off": [False], "both": [True, False]}[args.calibration]
    if calibration is None and True in cals:
        print("the home's reader has no calibration.json: 'on' orders by span probability too")
    variants = [(b, k, c) for b in args.sizes for k in (args.k or [pipe.k]) for c in cals]
    em: dict[tuple[int, int, bool], dict[str, float]] = {v: {} for v in variants}
    wall: dict[tuple[int, int, bool], list[float]] = {v: [] for v in variants}
    for name, halves in sets.items():
        regex, qs = name in REGEX_SETS, halves["tune"]
        hits = dict.fromkeys(variants, 0)
        for i, q in enumerate(qs):
            for b, k, c in variants[i % len(variants) :] + variants[: i % len(variants)]:
                reader.settings = dataclasses.replace(base, batch_size=b)
                pipe.calibration = calibration if c else None
                t = time.perf_counter()
                [res] = pipe.ask_detailed([q.question], 1, k)
                wall[(b, k, c)].append(time.perf_counter() - t)
                if res.answers:
                    text = res.answers[0].text
                    hits[(b, k, c)] += bool(answer_match(text, q.answers, regex))
        for v in variants:
            em[v][name] = 100 * hits[v] / max(len(qs), 1)
    reader.settings, pipe.calibration = base, calibration
    names = list(sets)
    p50_0 = float(np.median(wall[variants[0]]))
    print(f"{sum(len(h['tune']) for h in sets.values())} tune-half questions\n")
    print(
        "| window batch | k | calibration | "
        + " | ".join(f"EM {n}" for n in names)
        + " | mean EM | p50 ms | mean ms | p50 ratio |"
    )
    print("|---" * (len(names) + 7) + "|")
    for v in variants:
        p50 = float(np.median(wall[v]))
        cells = " | ".join(f"{em[v][n]:.1f}" for n in names)
        print(
            f"| {v[0]} | {v[1]} | {'on' if v[2] else 'off'} | {cells} | {np.mean([em[v][n] for n in names]):.2f} | {1000 * p50:.0f} | "
            f"{1000 * np.mean(wall[v]):.0f} | {p50 / p50_0:.2f} |"
        )


if __name__ == "__main__":
    main()
