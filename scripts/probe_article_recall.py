"""Issue 21's comparator measured in the same run: DrQA-style top-k *article* recall on a home's own
text next to the top-k *paragraph* recall of the retriever ``ask`` uses, and how much of the gap the
candidate pool could close.

Per question of each sampled half (``drqa_ng.evaluation.splits``; CuratedTREC by regex; DPR's
``has_answer`` as everywhere else):

- ``article R@k``: an answer occurs in the full text of one of the home's article index's top k
  articles (DrQA's document retriever reads whole articles; ``home/articles`` is its TF-IDF over the
  same articles the paragraphs come from);
- ``paragraph R@k``: an answer occurs in one of the top k paragraphs of the home's retriever with its
  article ranking (``ArticleRanker`` at its shipped weights), in the retriever's order;
- ``pool``: an answer occurs in any candidate the article ranker scores (its top 100 paragraphs plus
  every paragraph of its best and named articles) — the ceiling of any reranking of that pool;
- the paragraphs the top 5 articles hold (their mean count): what picking "the" paragraph of an
  article means.

    python scripts/probe_article_recall.py --home H [--per-split 300] [--out report.json]

Light: one retrieval per question, no reading (~8 s per 300 questions on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from drqa_ng.config import read_home_config, shared_data_dir
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.metrics import passage_match
from drqa_ng.evaluation.splits import REGEX_SETS, sampled_halves
from drqa_ng.pipeline import open_retrievers
from drqa_ng.retrieval.articles import ArticleRanker
from drqa_ng.retrieval.loader import open_retriever
from drqa_ng.store.docstore import DocStore

KS = (1, 5, 20)
BATCH = 32


def first_hit(labels: list[bool]) -> int:
    """1-based rank of the first True (0 = none)."""
    return next((i for i, y in enumerate(labels, 1) if y), 0)


def recall(ranks: list[int], k: int) -> float:
    """Share (in %) of questions whose first hit is at rank 1..k."""
    return 100.0 * sum(1 for r in ranks if 0 < r <= k) / max(len(ranks), 1)


def measure(ranker: ArticleRanker, store: DocStore, qs: list[Question], regex: bool) -> dict[str, object]:
    art_rank, par_rank, pool, top5_paras = [], [], [], []
    weights = ranker.weights.vector()
    for lo in range(0, len(qs), BATCH):
        batch = qs[lo : lo + BATCH]
        texts = [q.question for q in batch]
        doc_hits = ranker.documents.search(texts, max(KS))
        cands = ranker.candidates(texts, max(KS))
        for q, dh, c in zip(batch, doc_hits, cands, strict=True):
            docs = store.get_documents([h.doc_id for h in dh])
            art_rank.append(
                first_hit([d is not None and passage_match(d.text, q.answers, regex) for d in docs])
            )
            y = [passage_match(t, q.answers, regex) for t in c.texts]
            pool.append(any(y))
            label = dict(zip(c.ids, y, strict=True))
            par_rank.append(first_hit([label[s.hit.id] for s in ranker.top(c, max(KS), weights)]))
            top5_paras.append(sum(len(u) for u in store.get_units([h.doc_id for h in dh[:5]], "paragraph")))
    return {
        "n": len(qs),
        "article": {k: recall(art_rank, k) for k in KS},
        "paragraph": {k: recall(par_rank, k) for k in KS},
        "pool": 100.0 * float(np.mean(pool)) if pool else 0.0,
        "paragraphs_in_top5_articles": float(np.mean(top5_paras)) if top5_paras else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--per-split", type=int, default=300)
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = shared_data_dir()
    if data is None:
        raise SystemExit("set DRQA_NG_DATA to the shared data folder")
    cfg = read_home_config(args.home)
    if cfg.articles is None:
        raise SystemExit(f"{args.home} has no article index (rerun quickstart)")
    store = DocStore.open(cfg.docs)
    ranker = ArticleRanker(
        open_retrievers(cfg.indexes, cfg.fusion, cfg.fusion_weight_or_default),
        open_retriever(cfg.articles),
        store,
    )
    report: dict[str, dict[str, object]] = {}
    print(
        "| set | half | n | article R@1 / R@5 / R@20 | paragraph R@1 / R@5 / R@20 | pool | paragraphs of the top 5 articles |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, halves in sampled_halves(data, args.per_split).items():
        for half, qs in halves.items():
            m = measure(ranker, store, qs, name in REGEX_SETS)
            report[f"{name}/{half}"] = m
            art, par = m["article"], m["paragraph"]
            assert isinstance(art, dict) and isinstance(par, dict)
            print(
                f"| {name} | {half} | {m['n']} | {' / '.join(f'{art[k]:.1f}' for k in KS)} | "
                f"{' / '.join(f'{par[k]:.1f}' for k in KS)} | {m['pool']:.1f} | "
                f"{m['paragraphs_in_top5_articles']:.0f} |",
                flush=True,
            )
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
