"""Open-domain exact match of the pipeline ``ask`` uses on one or more data homes, on the held-out
test halves of every question set (``drqa_ng.evaluation.splits``; CuratedTREC by regex) at the
default k (top answer, abstained or not), with paragraph R@5 of the evidence it read beside it: in the
order ``ask`` returns it (by how each passage reads, ``pipeline.evidence_order``) and in the
retriever's order.

Each ``--home NAME=DIR`` is opened as ``QAPipeline.from_home`` opens it (its indexes, fusion, article
index and the shipped reader), so two homes that differ in one index compare that index end to end:

    python scripts/report_open_em.py --home before=H1 --home after=H2 [--per-split 100] [--out O]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.metrics import answer_match, passage_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, sampled_halves
from drqa_ng.pipeline import QAPipeline

log = logging.getLogger("report_open_em")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", action="append", required=True, help="NAME=DIR (repeatable)")
    ap.add_argument("--per-split", type=int, default=100)
    ap.add_argument("--half", default="test", choices=["tune", "test"])
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA or put the shared data beside the checkout"
    sets = sampled_halves(data, args.per_split, sets=tuple(args.sets))
    rows = []
    print("| home | set | n | EM | R@5 | R@5 retriever order | s/question |")
    print("|---|---|---|---|---|---|---|")
    for spec in args.home:
        name, home = spec.split("=", 1)
        pipe = QAPipeline.from_home(Path(home))
        for set_name, halves in sets.items():
            regex = set_name in REGEX_SETS
            qs = halves[args.half]
            em = r5 = r5_retriever = 0
            t0 = time.perf_counter()
            for q in qs:
                [res] = pipe.ask_detailed([q.question], 1)
                if res.answers:
                    text = res.answers[0].text
                    em += bool(answer_match(text, q.answers, regex))
                found = [passage_match(e.passage.text, q.answers, regex) for e in res.evidence]
                r5 += any(found[:5])
                by_rank = sorted(range(len(found)), key=lambda i: res.evidence[i].rank)
                r5_retriever += any(found[i] for i in by_rank[:5])
            sec = (time.perf_counter() - t0) / max(len(qs), 1)
            n = max(len(qs), 1)
            row = {
                "home": name,
                "set": set_name,
                "n": len(qs),
                "em": 100 * em / n,
                "r5": 100 * r5 / n,
                "r5_retriever_order": 100 * r5_retriever / n,
            }
            row["seconds_per_question"] = sec
            rows.append(row)
            print(
                f"| {name} | {set_name} | {len(qs)} | {row['em']:.1f} | {row['r5']:.1f} "
                f"| {row['r5_retriever_order']:.1f} | {sec:.2f} |",
                flush=True,
            )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report_open_em.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
