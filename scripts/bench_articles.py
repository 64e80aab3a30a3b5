"""Cost of document-aware ranking: ``ask`` latency (wall and process CPU per question, p50 / p95) of a
data home's pipeline with its article index and answer ranker, against the same home without them.

Questions are asked one at a time at the default k, after one warm-up question per pipeline; both
pipelines alternate question by question so that load on a shared machine hits them alike. Prints a
Markdown table with the ratio to the paragraph-only pipeline.

    python scripts/bench_articles.py --home H [--questions FILE] [-n 40] [--other-home H2]

``--other-home`` adds a third pipeline: what ``ask`` opens on another home (e.g. the same corpus
after its MiniLM background build), timed in the same alternation.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from drqa_ng.config import read_home_config
from drqa_ng.evaluation.datasets import load_questions
from drqa_ng.pipeline import PipelineSettings, QAPipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--questions", type=Path, help="question file (default: WebQuestions from $DRQA_NG_DATA)")
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--other-home", type=Path, help="also time the default pipeline of this home")
    args = ap.parse_args()
    cfg = read_home_config(args.home)
    if args.questions is None:
        from drqa_ng.config import shared_data_dir

        data = shared_data_dir()
        assert data is not None, "give --questions or set DRQA_NG_DATA"
        args.questions = data / "qa" / "webquestions-train.jsonl"
    qs = [q.question for q in load_questions(args.questions)[: args.n]]
    base = PipelineSettings(
        cfg.indexes,
        cfg.docs,
        fusion=cfg.fusion,
        fusion_weight=cfg.fusion_weight_or_default,
        vocabulary=cfg.vocabulary,
    )
    systems = {
        "paragraphs (before)": QAPipeline.from_settings(base),
        "articles + answer ranker": QAPipeline.from_settings(replace(base, articles=cfg.articles)),
    }
    if args.other_home is not None:
        systems[f"{args.other_home.name}: its default"] = QAPipeline.from_home(args.other_home)
    wall: dict[str, list[float]] = {name: [] for name in systems}
    cpu: dict[str, list[float]] = {name: [] for name in systems}
    for pipe in systems.values():
        pipe.ask([qs[0]])
    for q in qs:
        for name, pipe in systems.items():
            t0, c0 = time.perf_counter(), time.process_time()
            pipe.ask([q])
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    ref = next(iter(systems))
    print(f"{len(qs)} questions from {args.questions.name}, k = {next(iter(systems.values())).k}\n")
    print("| pipeline | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p50 ratio |")
    print("|---|---|---|---|---|")
    for name in systems:
        w, c = np.asarray(wall[name]) * 1000, np.asarray(cpu[name]) * 1000
        ratio = float(np.median(c) / np.median(np.asarray(cpu[ref]) * 1000))
        print(
            f"| {name} | {np.median(w):.0f} | {np.percentile(w, 95):.0f} | {np.median(c):.0f} | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()
