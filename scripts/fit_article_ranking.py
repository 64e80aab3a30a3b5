"""Fit the document-aware paragraph ranking weights (``drqa_ng.retrieval.articles``) on tune halves
and report top-k paragraph recall before → after on the held-out halves.

Splits: ``drqa_ng.evaluation.splits`` (never tuned on the reported half); ``--per-split`` questions
are sampled from each half (seed 0). CuratedTREC answers are regular expressions.

"before" = the home's paragraph retriever alone (its top k); "after" = the article ranker with the
weights chosen by a grid search maximising the mean top-5 recall over the tune halves (with the
dense cosine among the features when the home has a transformer dense index).

    python scripts/fit_article_ranking.py --home H --doc-index H/articles --out OUT [--per-split 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from pathlib import Path

import numpy as np

from drqa_ng.config import read_home_config, shared_data_dir
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.metrics import passage_match
from drqa_ng.evaluation.splits import REGEX_SETS, sampled_halves
from drqa_ng.pipeline import open_retrievers
from drqa_ng.retrieval.articles import FEATURES, ArticleRanker, ArticleWeights, vector_scorer
from drqa_ng.retrieval.loader import open_retriever
from drqa_ng.store.docstore import DocStore

log = logging.getLogger("fit_article_ranking")

KS = (1, 5, 20)
GRID = {
    "doc": (0.0, 0.25, 0.5, 1.0, 2.0, 4.0),
    "named": (0.0, 0.25, 0.5, 1.0, 2.0),
    "title": (0.0, 0.25, 0.5, 1.0, 2.0),
    "words": (0.0, 0.5, 1.0, 2.0, 4.0, 8.0),
}
DENSE_GRID = {  # with a transformer dense index the cosine joins; a coarser grid keeps it ~1,000 points
    "doc": (0.0, 0.5, 1.0, 2.0),
    "named": (0.0, 0.5, 1.0),
    "title": (0.0, 0.25, 0.5),
    "words": (0.0, 1.0, 2.0, 4.0),
    "dense": (0.0, 1.0, 2.0, 4.0, 8.0, 16.0),
}


def collect(
    ranker: ArticleRanker, qs: list[Question], regex: bool, cache: Path
) -> list[dict[str, np.ndarray]]:
    """Per question: candidate features, answer labels and paragraph-retriever ranks (cached)."""
    if cache.is_file():
        with np.load(cache) as z:
            cut = np.cumsum(z["n"])[:-1]
            return [
                {"x": x, "y": y, "pr": pr, "dr": dr}
                for x, y, pr, dr in zip(
                    *(np.split(z[key], cut) for key in ("x", "y", "pr", "dr")), strict=True
                )
            ]
    rows = []
    for lo in range(0, len(qs), 32):
        batch = qs[lo : lo + 32]
        for q, c in zip(batch, ranker.candidates([q.question for q in batch], dense=True), strict=True):
            label = [passage_match(t, q.answers, regex) for t in c.texts]
            rows.append(
                {
                    "x": c.features,
                    "y": np.asarray(label, dtype=bool),
                    "pr": np.asarray(c.para_rank, dtype=np.int64),
                    "dr": np.asarray(c.doc_rank, dtype=np.int64),
                }
            )
    np.savez(
        cache,
        x=np.concatenate([r["x"] for r in rows]),
        y=np.concatenate([r["y"] for r in rows]),
        pr=np.concatenate([r["pr"] for r in rows]),
        dr=np.concatenate([r["dr"] for r in rows]),
        n=np.asarray([len(r["y"]) for r in rows]),
    )
    return rows


def recall(
    rows: list[dict[str, np.ndarray]], weights: np.ndarray | None, ks: tuple[int, ...] = KS
) -> list[float]:
    """Top-k recall: ``weights`` None ranks by the paragraph retriever alone (retrieved ones only)."""
    hits = np.zeros(len(ks))
    for r in rows:
        if weights is None:
            keep = r["pr"] > 0
            order = np.flatnonzero(keep)[np.argsort(r["pr"][keep], kind="stable")]
        else:
            s = r["x"] @ weights
            tie = np.where(r["pr"] > 0, r["pr"], 1 << 30)
            order = np.lexsort((tie, -s))
        y = r["y"][order]
        for i, k in enumerate(ks):
            hits[i] += bool(y[:k].any())
    return (hits / max(len(rows), 1)).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--doc-index", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-split", type=int, default=300)
    ap.add_argument(
        "--expand", type=int, default=ArticleWeights().expand, help="articles expanded into paragraphs"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA"
    cfg = read_home_config(args.home)
    store = DocStore.open(cfg.docs)
    ranker = ArticleRanker(
        open_retrievers(cfg.indexes, cfg.fusion, cfg.fusion_weight_or_default),
        open_retriever(args.doc_index),
        store,
        ArticleWeights(expand=args.expand),
    )
    sets = sampled_halves(data, args.per_split)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, list[dict[str, np.ndarray]]]] = {}
    for name, halves in sets.items():
        rows[name] = {}
        for split, qs in halves.items():
            t0 = time.perf_counter()
            cache = args.out / f"candidates-{name}-{split}.npz"
            rows[name][split] = collect(ranker, qs, name in REGEX_SETS, cache)
            log.info("%s %s: %d questions, %.1f s", name, split, len(qs), time.perf_counter() - t0)
    best, best_score = None, -1.0
    with_dense = vector_scorer(ranker.paragraphs) is not None
    grid = DENSE_GRID if with_dense else {**GRID, "dense": (0.0,)}
    for combo in itertools.product(*grid.values()):
        w = np.array([1.0, *combo])
        score = float(np.mean([recall(rows[n]["tune"], w, (5,))[0] for n in rows]))
        if score > best_score:
            best, best_score = w, score
    assert best is not None
    log.info(
        "best weights %s: mean tune R@5 %.3f", dict(zip(FEATURES, best.tolist(), strict=True)), best_score
    )
    report: dict[str, object] = {
        "weights": dict(zip(FEATURES, best.tolist(), strict=True)),
        "defaults": dict(zip(FEATURES, ArticleWeights().vector().tolist(), strict=True)),
        "tune_mean_r5": best_score,
        "per_split": args.per_split,
        "sets": {},
    }
    print(f"weights {report['weights']} (mean tune R@5 {best_score:.3f})")
    print("| set | half | n | before R@1/5/20 | after R@1/5/20 | candidates hold an answer |")
    print("|---|---|---|---|---|---|")
    for name, by_half in rows.items():
        for split, rs in by_half.items():
            before, after = recall(rs, None), recall(rs, best)
            report["sets"][f"{name}/{split}"] = {"n": len(rs), "before": before, "after": after}  # type: ignore[index]
            fmt = "/".join(f"{100 * v:.1f}" for v in before), "/".join(f"{100 * v:.1f}" for v in after)
            pool = 100 * float(np.mean([r["y"].any() for r in rs]))
            print(f"| {name} | {split} | {len(rs)} | {fmt[0]} | {fmt[1]} | {pool:.1f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "article_ranking.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
