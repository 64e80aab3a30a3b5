"""Top-k paragraph recall of the data home's default retriever with its dense/static index swapped
for others (a tuned encoder's index), on the tune and held-out test halves of every question set.

For each ``--index NAME=DIR`` (the home's own dense index is ``home``), three systems are measured:
``dense`` (that index alone), ``fused`` (the home's sparse index + it, the home's fusion and weight)
and ``default`` (fused, then the document-aware article ranking: what ``ask`` uses). Halves:
``drqa_ng.evaluation.splits``; the encoder is tuned on tune halves only, and ``val`` is the share of
each tune half that ``train-encoder`` held out (``--dev-share``, by ``pairs.dev_fold`` of the question
id): choose models on ``val``, report ``test``. ``--per-split`` questions a half (seed 0); CuratedTREC answers are regexes; answer-in-paragraph as DPR's ``has_answer``.

    python scripts/compare_encoders.py --home H --index tuned=RUN/index [--per-split 300] [--out O]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path

import numpy as np

from drqa_ng.config import read_home_config, shared_data_dir
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.metrics import passage_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, load_halves
from drqa_ng.indexes import open_retriever
from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.articles import ArticleRanker
from drqa_ng.retrieval.fusion import HybridRetriever
from drqa_ng.retrieval.pairs import dev_fold
from drqa_ng.store.docstore import DocStore

log = logging.getLogger("compare_encoders")
KS = (1, 5, 20)


def recall_at(retriever: Retriever, store: DocStore, questions: list[Question], regex: bool) -> list[float]:
    """Share of questions with an answer-bearing paragraph in the top k, for each k of ``KS``."""
    hits = np.zeros(len(KS))
    for lo in range(0, len(questions), 32):
        batch = questions[lo : lo + 32]
        for q, hs in zip(batch, retriever.search([q.question for q in batch], max(KS)), strict=True):
            texts = {p.id: p.text for p in store.get_passages([h.id for h in hs]) if p is not None}
            ok = [passage_match(texts.get(h.id, ""), q.answers, regex) for h in hs]
            for i, k in enumerate(KS):
                hits[i] += any(ok[:k])
    return (100 * hits / max(len(questions), 1)).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument(
        "--index", action="append", default=[], help="NAME=DIR of a dense/static index (repeatable)"
    )
    ap.add_argument("--per-split", type=int, default=300)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument(
        "--halves",
        nargs="+",
        default=["val", "test"],
        help="tune, test, or val: the tune-half questions train-encoder held out (--dev-share)",
    )
    ap.add_argument("--val-share", type=float, default=0.15, help="train-encoder's --dev-share")
    ap.add_argument("--systems", nargs="+", default=["dense", "fused", "default"])
    ap.add_argument(
        "--fusion-weight",
        type=float,
        nargs="+",
        help="interp weights of the dense index to try (default: the home's)",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA or put the shared data beside the checkout"
    cfg = read_home_config(args.home)
    sparse = open_retriever(cfg.indexes[0])
    dense_dirs = {"home": cfg.indexes[-1], **dict(s.split("=", 1) for s in args.index)}
    store = DocStore.open(cfg.docs)
    articles = open_retriever(cfg.articles) if cfg.articles else None
    sets = {}
    for set_name in args.sets:
        halves = load_halves(data, set_name)
        halves["val"] = [q for q in halves["tune"] if dev_fold(q.id, args.val_share)]
        sets[set_name] = {
            h: random.Random(0).sample(qs, min(args.per_split, len(qs))) for h, qs in halves.items()
        }
    report: dict[str, object] = {"per_split": args.per_split, "home": str(args.home), "rows": []}
    print(f"| set | half | n | index | {' | '.join(f'{s} R@1/5/20' for s in args.systems)} |")
    print("|---|---|---|---|" + "---|" * len(args.systems))
    weights = args.fusion_weight or [cfg.fusion_weight_or_default]
    opened = {name: open_retriever(Path(d)) for name, d in dense_dirs.items()}  # each index loaded once
    for (index_name, dense), w in ((nd, w) for nd in opened.items() for w in weights):
        fused = HybridRetriever([sparse, dense], method=cfg.fusion, weight=w)  # type: ignore[arg-type]
        name = f"{index_name}@{w:g}" if len(weights) > 1 else index_name
        systems: dict[str, Retriever] = {"dense": dense, "fused": fused}
        if articles is not None:
            systems["default"] = ArticleRanker(fused, articles, store)  # its weights for this retriever
        for set_name, halves in sets.items():
            for half in args.halves:
                qs = halves[half]
                cells = []
                for sys_name in args.systems:
                    t0 = time.perf_counter()
                    r = recall_at(systems[sys_name], store, qs, set_name in REGEX_SETS)
                    report["rows"].append(  # type: ignore[attr-defined]
                        {
                            "set": set_name,
                            "half": half,
                            "index": name,
                            "system": sys_name,
                            "n": len(qs),
                            "recall": dict(zip(map(str, KS), r, strict=True)),
                            "seconds": time.perf_counter() - t0,
                        }
                    )
                    cells.append("/".join(f"{v:.1f}" for v in r))
                print(f"| {set_name} | {half} | {len(qs)} | {name} | {' | '.join(cells)} |", flush=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "compare_encoders.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
