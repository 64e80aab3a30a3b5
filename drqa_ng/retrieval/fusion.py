"""Hybrid retrieval: fuse the rankings of several retrievers (e.g. sparse BM25/TF-IDF + dense).

Two pure fusion functions and a ``HybridRetriever`` that implements the ``Retriever`` protocol
over any retrievers holding the same unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from drqa_ng.errors import InputError
from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.scoring import min_max
from drqa_ng.types import Hit

FusionMethod = Literal["rrf", "interp"]
FUSION_METHODS: tuple[FusionMethod, ...] = ("rrf", "interp")


def _top(scores: dict[str, float], doc_ids: dict[str, str], k: int) -> list[Hit]:
    # dicts keep first-seen order, so the stable sort breaks ties by earliest appearance
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:k]
    return [Hit(id=i, doc_id=doc_ids[i], score=s) for i, s in ranked]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], k: int, c: float = 60.0) -> list[Hit]:
    """Reciprocal rank fusion of several ranked lists, best ``k`` first.

    score(d) = Σ_r 1 / (c + rank_r(d)), rank_r starting at 1, summed over the lists that contain d
    (Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
    Rank Learning Methods", SIGIR 2009; c = 60 as in the paper). Scores of the inputs are ignored.
    Ties keep the order of first appearance.
    """
    if c < 0:
        raise InputError(f"RRF constant c must be >= 0, got {c}")
    scores: dict[str, float] = {}
    doc_ids: dict[str, str] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, hit in enumerate(ranking, start=1):
            if hit.id in seen:  # a duplicate inside one list counts once, at its best rank
                continue
            seen.add(hit.id)
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (c + rank)
            doc_ids.setdefault(hit.id, hit.doc_id)
    return _top(scores, doc_ids, k)


def interpolate(rankings: Sequence[Sequence[Hit]], weights: Sequence[float], k: int) -> list[Hit]:
    """Weighted sum of min-max normalised scores, best ``k`` first.

    score(d) = Σ_r w_r · (s_r(d) - min_r) / (max_r - min_r), with s_r(d) = 0 contribution when list
    r does not contain d (the linear score combination of Fox & Shaw's CombSUM, TREC-2 1994, with
    per-list min-max normalisation as in Lee, SIGIR 1997; the dense+sparse form used by Pyserini's
    hybrid search). A list whose scores are all equal normalises to 1.0.
    """
    if len(weights) != len(rankings):
        raise InputError(f"{len(rankings)} rankings but {len(weights)} weights")
    scores: dict[str, float] = {}
    doc_ids: dict[str, str] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        best: dict[str, float] = {}
        for hit in ranking:  # a duplicate inside one list counts once, with its best score
            if hit.id not in best or hit.score > best[hit.id]:
                best[hit.id] = hit.score
            doc_ids.setdefault(hit.id, hit.doc_id)
        ids = list(best)
        for i, s in zip(ids, min_max([best[i] for i in ids]).tolist(), strict=True):
            scores[i] = scores.get(i, 0.0) + w * s
    return _top(scores, doc_ids, k)


def resolve_weights(n: int, weight: float | Sequence[float] | None) -> list[float]:
    """Per-retriever weights: None = equal; a float w = the LAST retriever gets w, the others share 1 - w."""
    if n < 1:
        raise InputError("need at least one retriever")
    if weight is None:
        return [1.0 / n] * n
    if isinstance(weight, int | float):
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"weight must be in [0, 1], got {weight}")
        if n == 1:
            return [1.0]
        return [(1.0 - weight) / (n - 1)] * (n - 1) + [float(weight)]
    ws = [float(w) for w in weight]
    if len(ws) != n:
        raise InputError(f"{n} retrievers but {len(ws)} weights")
    return ws


class SearchCache:
    """A retriever that remembers its results, so several fusions of the same indexes (or an
    index evaluated alone and inside a hybrid) search each batch once.

    A batch asked again with ``k`` no larger than before is answered from memory (cut to ``k``);
    anything else goes to the wrapped retriever. Meant for one evaluation run: memory grows with
    the queries seen.
    """

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self._seen: dict[tuple[str, ...], tuple[int, list[list[Hit]]]] = {}

    @property
    def unit(self) -> str:
        return self.inner.unit

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        key = tuple(queries)
        got = self._seen.get(key)
        if got is not None and got[0] >= k:
            return [hits[:k] for hits in got[1]]
        res = self.inner.search(queries, k)
        self._seen[key] = (k, res)
        return [list(hits) for hits in res]


class HybridRetriever:
    """Fuses several retrievers of the same unit; fetches ``max(depth, k)`` hits from each."""

    def __init__(
        self,
        retrievers: Sequence[Retriever],
        method: FusionMethod = "rrf",
        weight: float | Sequence[float] | None = None,
        depth: int = 100,
        c: float = 60.0,
    ) -> None:
        if not retrievers:
            raise InputError("a hybrid retriever needs at least one retriever")
        if method not in FUSION_METHODS:
            raise InputError(f"unknown fusion method {method!r}; choose from {', '.join(FUSION_METHODS)}")
        units = {r.unit for r in retrievers}
        if len(units) != 1:
            raise InputError(f"cannot fuse indexes of different units: {', '.join(sorted(units))}")
        if depth < 1:
            raise InputError(f"depth must be >= 1, got {depth}")
        self.retrievers = list(retrievers)
        self.method = method
        self.weights = resolve_weights(len(retrievers), weight)
        self.depth = depth
        self.c = c
        self._unit = units.pop()

    @property
    def unit(self) -> str:
        return self._unit

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Batch search every retriever to ``max(depth, k)`` and fuse per query."""
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        depth = max(self.depth, k)
        per_retriever = [r.search(queries, depth) for r in self.retrievers]
        out: list[list[Hit]] = []
        for qi in range(len(queries)):
            rankings = [res[qi] for res in per_retriever]
            if self.method == "rrf":
                out.append(reciprocal_rank_fusion(rankings, k, self.c))
            else:
                out.append(interpolate(rankings, self.weights, k))
        return out
