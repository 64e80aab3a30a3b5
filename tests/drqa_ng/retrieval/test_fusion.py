from __future__ import annotations

from collections.abc import Sequence

import pytest

from drqa_ng.errors import InputError
from drqa_ng.retrieval.fusion import (
    HybridRetriever,
    SearchCache,
    interpolate,
    reciprocal_rank_fusion,
    resolve_weights,
)
from drqa_ng.types import Hit


def h(i: str, s: float) -> Hit:
    return Hit(i, i.split("#")[0], s)


A = [h("a", 10.0), h("b", 6.0), h("c", 2.0)]
B = [h("c", 0.9), h("d", 0.8), h("a", 0.5)]


def test_rrf_by_hand() -> None:
    out = reciprocal_rank_fusion([A, B], k=4, c=60.0)
    # a: 1/61 + 1/63, c: 1/63 + 1/61 (tie, a seen first), b: 1/62, d: 1/62 (tie, b first)
    assert [x.id for x in out] == ["a", "c", "b", "d"]
    assert out[0].score == pytest.approx(1 / 61 + 1 / 63)
    assert out[2].score == pytest.approx(1 / 62)


def test_rrf_truncates_and_ignores_scores() -> None:
    flipped = [h("a", -5.0), h("b", -1.0)]
    assert [x.id for x in reciprocal_rank_fusion([flipped], k=1)] == ["a"]
    assert reciprocal_rank_fusion([], k=3) == []


def test_interpolate_by_hand() -> None:
    out = interpolate([A, B], [0.5, 0.5], k=4)
    # A norm: a 1, b .5, c 0 ; B norm: c 1, d .75, a 0
    scores = {x.id: x.score for x in out}
    assert scores == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.375})
    assert [x.id for x in out] == ["a", "c", "d", "b"]
    only_b = interpolate([A, B], [0.0, 1.0], k=2)
    assert [x.id for x in only_b] == ["c", "d"]


def test_interpolate_rejects_bad_weights() -> None:
    with pytest.raises(InputError):
        interpolate([A, B], [1.0], k=2)


def test_resolve_weights() -> None:
    assert resolve_weights(2, None) == [0.5, 0.5]
    assert resolve_weights(3, 0.4) == pytest.approx([0.3, 0.3, 0.4])
    assert resolve_weights(2, [0.2, 0.8]) == [0.2, 0.8]
    with pytest.raises(InputError):
        resolve_weights(2, 1.5)


class Fixed:
    def __init__(self, hits: list[Hit], unit: str = "paragraph") -> None:
        self.hits = hits
        self._unit = unit
        self.asked: list[int] = []

    @property
    def unit(self) -> str:
        return self._unit

    def search(self, queries, k):  # type: ignore[no-untyped-def]
        self.asked.append(k)
        return [self.hits[:k] for _ in queries]


def test_hybrid_retriever_fetches_depth_and_fuses() -> None:
    r1, r2 = Fixed(A), Fixed(B)
    hy = HybridRetriever([r1, r2], method="rrf", depth=50)
    out = hy.search(["q1", "q2"], k=2)
    assert r1.asked == [50] and r2.asked == [50]
    assert [[x.id for x in hits] for hits in out] == [["a", "c"], ["a", "c"]]
    interp = HybridRetriever([r1, r2], method="interp", weight=1.0, depth=5)
    assert [x.id for x in interp.search(["q"], k=1)[0]] == ["c"]
    assert hy.unit == "paragraph"


def test_search_cache_reuses_deeper_results() -> None:
    calls: list[tuple[tuple[str, ...], int]] = []

    class Counting:
        unit = "paragraph"

        def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
            calls.append((tuple(queries), k))
            return [[h(f"{q}{i}", float(-i)) for i in range(k)] for q in queries]

    cache = SearchCache(Counting())
    assert cache.unit == "paragraph"
    first = cache.search(["a", "b"], 5)
    assert [x.id for x in cache.search(["a", "b"], 3)[1]] == ["b0", "b1", "b2"]  # cut from memory
    assert cache.search(["a", "b"], 5) == first and len(calls) == 1
    first[0].clear()  # callers own the lists they get
    assert len(cache.search(["a", "b"], 5)[0]) == 5
    cache.search(["a", "b"], 8)  # deeper than remembered: searched again
    cache.search(["b", "a"], 2)  # another batch
    assert calls == [(("a", "b"), 5), (("a", "b"), 8), (("b", "a"), 2)]


def test_hybrid_rejects_mixed_units_and_bad_method() -> None:
    with pytest.raises(InputError):
        HybridRetriever([Fixed(A), Fixed(B, unit="doc")])
    with pytest.raises(InputError):
        HybridRetriever([Fixed(A)], method="max")  # type: ignore[arg-type]
