"""Exact match of a data home's pipeline for several retriever weights in the answer score (``answer_weight``:
answer score = reader score + w · retriever norm) and several k, on the **tune** halves of every question
set (``drqa_ng.evaluation.splits``; CuratedTREC by regex), reading each question once.

Each question's top ``max(k)`` passages are read once (every span of every window kept); each (k, w) is
then the pipeline's own ranking (``QAPipeline.read``: merge, calibrated confidence, order) over the spans
of the question's top-k passages, retrieved at that k, so the figures are what ``ask`` would answer with
those settings.

    python scripts/sweep_answer_weight.py --home H [--per-split 150] [--k 10 20] [--weights 0 1 2 4]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.metrics import answer_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, sampled_halves
from drqa_ng.pipeline import Evidence, QAPipeline
from drqa_ng.protocols import Reader
from drqa_ng.types import Answer, Passage

log = logging.getLogger("sweep_answer_weight")


class Replay:
    """A ``Reader`` answering from spans read before: each question's spans in the passages asked for."""

    def __init__(self, spans: dict[str, list[Answer]]) -> None:
        self.spans = spans

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int = 1
    ) -> list[list[Answer]]:
        out = []
        for q, ps in zip(questions, passages, strict=True):
            ids = {p.id for p in ps}
            out.append([a for a in self.spans[q] if a.passage.id in ids][:top_n])
        return out


def read_every_span(
    reader: Reader, texts: Sequence[str], evidence: Sequence[Sequence[Evidence]]
) -> dict[str, list[Answer]]:
    """Each question's spans in its passages, all of them (every span of every window, so any subset of
    the passages gets the top 20 the pipeline would), read in batches of 8: what ``Replay`` answers from."""
    spans: dict[str, list[Answer]] = {}
    for lo in range(0, len(texts), 8):
        got = reader.read(
            texts[lo : lo + 8], [[e.passage for e in ev] for ev in evidence[lo : lo + 8]], top_n=100_000
        )
        spans.update(zip(texts[lo : lo + 8], got, strict=True))
    return spans


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--per-split", type=int, default=150)
    ap.add_argument("--half", default="tune", choices=["tune", "test"])
    ap.add_argument("--k", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 4.0, 8.0])
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA"
    pipe = QAPipeline.from_home(args.home)
    reader = pipe.reader
    depth = max(args.k)
    em: dict[tuple[int, float], list[float]] = {(k, w): [] for k in args.k for w in args.weights}
    print("| set | n | " + " | ".join(f"k={k} w={w:g}" for k in args.k for w in args.weights) + " |")
    for name, halves in sampled_halves(data, args.per_split, sets=SETS).items():
        qs = halves[args.half]
        t0 = time.perf_counter()
        texts = [q.question for q in qs]
        # retrieved at each k, as ask would (the norms are min-max over the k hits)
        by_k: dict[int, list[list[Evidence]]] = {k: pipe.retrieve(texts, k=k) for k in args.k}
        evidence = by_k[depth]
        pipe.reader = Replay(read_every_span(reader, texts, evidence))
        row = []
        for k in args.k:
            for w in args.weights:
                pipe.answer_weight = w
                answers = pipe.read(texts, by_k[k], top_n=1)
                hits = [
                    bool(a) and answer_match(a[0].text, q.answers, name in REGEX_SETS)
                    for q, a in zip(qs, answers, strict=True)
                ]
                em[(k, w)].append(100 * float(np.mean(hits)))
                row.append(em[(k, w)][-1])
        pipe.reader = reader
        log.info("%s: %d q, %.1f s", name, len(qs), time.perf_counter() - t0)
        print(f"| {name} | {len(qs)} | " + " | ".join(f"{v:.1f}" for v in row) + " |", flush=True)
    print(
        "| mean | | " + " | ".join(f"{np.mean(em[(k, w)]):.2f}" for k in args.k for w in args.weights) + " |"
    )


if __name__ == "__main__":
    main()
