"""Which order of a question's merged answers puts a right one first? (the pipeline's ranking, issue 21)

Each sampled question of each set's ``--half`` (``drqa_ng.evaluation.splits``; CuratedTREC by regex) is
retrieved at the home's k and read once (every span kept); then the pipeline's own merge
(``QAPipeline.read``) ranks the answers three ways, and the top answer's exact match is counted:

- ``calibrated``: by the calibrated confidence (the reader folder's ``calibration.json``: what ``ask`` does)
- ``mass``: by the summed span probability P_a (no calibration: DrQA-style aggregation)
- ``score``: by the best span's score alone

    python scripts/compare_answer_orders.py --home H [--per-split 300] [--half tune]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.metrics import answer_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, sampled_halves
from drqa_ng.pipeline import QAPipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_answer_weight import Replay, read_every_span  # a sibling script

ORDERS = ("calibrated", "mass", "score")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--per-split", type=int, default=300)
    ap.add_argument("--half", default="tune", choices=["tune", "test"])
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA"
    pipe = QAPipeline.from_home(args.home)
    reader, calibration = pipe.reader, pipe.calibration
    em: dict[str, list[float]] = {o: [] for o in ORDERS}
    print("| set | n | " + " | ".join(ORDERS) + " |\n|---|---|" + "---|" * len(ORDERS))
    for name, halves in sampled_halves(data, args.per_split, sets=SETS).items():
        qs = halves[args.half]
        texts = [q.question for q in qs]
        evidence = pipe.retrieve(texts)
        pipe.reader = Replay(read_every_span(reader, texts, evidence))
        row = []
        for order in ORDERS:
            pipe.calibration = calibration if order == "calibrated" else None
            answers = pipe.read(texts, evidence, top_n=20)
            if order == "score":
                answers = [sorted(a, key=lambda x: -x.score) for a in answers]
            hits = [
                bool(a) and answer_match(a[0].text, q.answers, name in REGEX_SETS)
                for q, a in zip(qs, answers, strict=True)
            ]
            em[order].append(100 * float(np.mean(hits)))
            row.append(em[order][-1])
        pipe.reader, pipe.calibration = reader, calibration
        print(f"| {name} | {len(qs)} | " + " | ".join(f"{v:.1f}" for v in row) + " |", flush=True)
    print("| mean | | " + " | ".join(f"{np.mean(em[o]):.2f}" for o in ORDERS) + " |")


if __name__ == "__main__":
    main()
