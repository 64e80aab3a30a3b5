"""Does the reader, read as a cross-encoder, rank paragraphs better than the retriever? (issue 21)

For each sampled question of each set's tune and test halves (``drqa_ng.evaluation.splits``), take the
home's default retriever's top ``--depth`` paragraphs, read every one of them with the home's reader,
and cache per paragraph: the retriever's rank and norm, whether it holds an answer (DPR's
``has_answer``; CuratedTREC by regex), and the reader's best span score in it (the shared-norm reader
scores spans of different paragraphs on one scale). Then print top-k paragraph recall of

- the retriever's order,
- the reader's best span score alone,
- the fusion ``reader + w * norm`` for the ``w`` that maximises the mean tune R@5,

over the whole depth, then the same fusion restricted to each question's first ``d`` paragraphs for
each ``--reorder`` depth d (what ``QAPipeline`` does at k = d: ``evidence_order``, free, since it reads
those anyway), with its own tune-chosen ``w``.

    python scripts/probe_reader_rerank.py --home H --out O [--per-split 150] [--depth 30] [--reorder 10 20]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.metrics import passage_match
from drqa_ng.evaluation.splits import REGEX_SETS, sampled_halves
from drqa_ng.pipeline import QAPipeline
from drqa_ng.protocols import StagedRead

log = logging.getLogger("probe_reader_rerank")
KS = (1, 5, 10, 20)
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0, 24.0, 1e3)  # 1e3: the retriever's order


def collect(pipe: QAPipeline, questions: list, regex: bool, depth: int, cache: Path) -> list[dict]:
    if cache.is_file():
        return [{k: np.asarray(v) for k, v in r.items()} for r in json.loads(cache.read_text())]
    reader = pipe.reader
    if not isinstance(reader, StagedRead):
        raise SystemExit(f"the home's reader is a {type(reader).__name__}: it cannot score every passage")
    rows = []
    for lo in range(0, len(questions), 8):
        batch = questions[lo : lo + 8]
        texts = [q.question for q in batch]
        evidence = pipe.retrieve(texts, k=depth)
        # the best span of every passage, as QAPipeline gets it for evidence_order
        answers = reader.read_prepared(
            reader.prepare(texts, [[e.passage for e in ev] for ev in evidence]), 1, every_passage=True
        )
        for q, ev, ans in zip(batch, evidence, answers, strict=True):
            best: dict[str, float] = {}
            for a in ans:
                best[a.passage.id] = max(best.get(a.passage.id, -1e9), a.reader_score)
            rows.append(
                {
                    "norm": [e.norm for e in ev],
                    "reader": [best.get(e.passage.id, -1e9) for e in ev],
                    "y": [passage_match(e.passage.text, q.answers, regex) for e in ev],
                }
            )
    cache.write_text(json.dumps(rows))
    return [{k: np.asarray(v) for k, v in r.items()} for r in rows]


def recall(rows: list[dict], w: float | None, ks: tuple[int, ...] = KS, depth: int = 10**9) -> list[float]:
    """Top-k recall over each question's first ``depth`` paragraphs, in the retriever's order (``w``
    None) or by reader + w · norm (the norm as retrieved at the probe's depth)."""
    hits = np.zeros(len(ks))
    for r in rows:
        y = r["y"][:depth]
        if not len(y):
            continue
        if w is None:
            order = np.arange(len(y))
        else:
            s = np.maximum(r["reader"][:depth], -50.0) + w * r["norm"][:depth]
            order = np.argsort(-s, kind="stable")
        y = y[order]
        for i, k in enumerate(ks):
            hits[i] += bool(y[:k].any())
    return (100 * hits / max(len(rows), 1)).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-split", type=int, default=150)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--reorder", type=int, nargs="*", default=[10, 20])
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA"
    pipe = QAPipeline.from_home(args.home)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, list[dict]]] = {}
    for name, halves in sampled_halves(data, args.per_split).items():
        rows[name] = {}
        for half, qs in halves.items():
            t0 = time.perf_counter()
            cache = args.out / f"rerank-{name}-{half}-{args.depth}.json"
            rows[name][half] = collect(pipe, qs, name in REGEX_SETS, args.depth, cache)
            log.info("%s %s: %d q, %.1f s", name, half, len(qs), time.perf_counter() - t0)
    scores = {w: float(np.mean([recall(rows[n]["tune"], w, (5,))[0] for n in rows])) for w in WEIGHTS}
    best = max(scores, key=lambda w: scores[w])
    print("tune mean R@5 by w:", {w: round(s, 2) for w, s in scores.items()}, "best", best)
    print("| set | half | retriever R@1/5/10/20 | reader alone | reader + w*norm |")
    print("|---|---|---|---|---|")
    for name, by_half in rows.items():
        for half, rs in by_half.items():
            cols = [recall(rs, None), recall(rs, 0.0), recall(rs, best)]
            print(f"| {name} | {half} | " + " | ".join("/".join(f"{v:.1f}" for v in c) for c in cols) + " |")
    for d in args.reorder:
        by_w = {w: float(np.mean([recall(rows[n]["tune"], w, (5,), d)[0] for n in rows])) for w in WEIGHTS}
        wd = max(by_w, key=lambda w: by_w[w])
        base = float(np.mean([recall(rows[n]["tune"], None, (5,), d)[0] for n in rows]))
        print(f"\nfirst {d} paragraphs reordered, w = {wd:g} (tune mean R@5 {base:.2f} -> {by_w[wd]:.2f})")
        print("| set | half | retriever R@1/5 | reordered R@1/5 |")
        print("|---|---|---|---|")
        for name, by_half in rows.items():
            for half, rs in by_half.items():
                a, b = recall(rs, None, (1, 5), d), recall(rs, wd, (1, 5), d)
                print(f"| {name} | {half} | {a[0]:.1f}/{a[1]:.1f} | {b[0]:.1f}/{b[1]:.1f} |")
        for half in ("tune", "test"):
            a5 = np.mean([recall(rows[n][half], None, (5,), d)[0] for n in rows])
            b5 = np.mean([recall(rows[n][half], wd, (5,), d)[0] for n in rows])
            print(f"| mean | {half} | R@5 {a5:.2f} | R@5 {b5:.2f} |")


if __name__ == "__main__":
    main()
