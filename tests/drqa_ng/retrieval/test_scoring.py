from __future__ import annotations

import math

import numpy as np
import pytest

from drqa_ng.retrieval.scoring import (
    bm25_doc_weights,
    bm25_idf,
    bm25_query_weights,
    min_max,
    tfidf_doc_weights,
    tfidf_idf,
    tfidf_query_weights,
)


def test_tfidf_idf_clipped_at_zero() -> None:
    idf = tfidf_idf(np.array([1, 5, 9]), 10)
    assert idf[0] == pytest.approx(math.log(9.5 / 1.5))
    assert idf[1] == pytest.approx(0.0)  # log(5.5/5.5)
    assert idf[2] == 0.0  # negative -> 0


def test_tfidf_weights() -> None:
    idf = np.array([2.0, 0.5])
    assert tfidf_doc_weights(np.array([1, 3]), idf) == pytest.approx([2 * math.log(2), 0.5 * math.log(4)])
    assert tfidf_query_weights(np.array([1, 3]), idf) == pytest.approx(tfidf_doc_weights([1, 3], idf))


def test_bm25_idf_epsilon_floor() -> None:
    df = np.array([0, 1, 8])
    idf, avg = bm25_idf(df, 10, epsilon=0.25)
    raw1, raw8 = math.log(9.5 / 1.5), math.log(2.5 / 8.5)
    assert avg == pytest.approx((raw1 + raw8) / 2)
    assert idf[0] == 0.0
    assert idf[1] == pytest.approx(raw1)
    assert idf[2] == pytest.approx(0.25 * avg)


def test_bm25_weight_formula() -> None:
    w = bm25_doc_weights(np.array([2]), np.array([1.3]), np.array([10]), 5.0, k1=1.2, b=0.6)
    assert w[0] == pytest.approx(1.3 * 2 * 2.2 / (2 + 1.2 * (1 - 0.6 + 0.6 * 10 / 5)))
    assert np.isfinite(bm25_doc_weights(np.array([1]), np.array([1.0]), np.array([0]), 0.0)).all()
    assert bm25_query_weights(np.array([1, 2])).tolist() == [1.0, 2.0]


def test_min_max() -> None:  # moved from test_fusion (one min-max for fusion and the pipeline)
    assert min_max([10.0, 6.0, 2.0]).tolist() == [1.0, 0.5, 0.0]
    assert min_max([3.0, 3.0]).tolist() == [1.0, 1.0]
    assert min_max([]).tolist() == []


def test_min_max_as_the_pipeline_uses_it() -> None:  # moved from test_pipeline (normalize_scores)
    assert min_max([3.0, 1.0, 2.0]).tolist() == [1.0, 0.0, 0.5]
    assert min_max([2.0, 2.0]).tolist() == [1.0, 1.0]
    assert min_max([]).size == 0
    assert np.all(min_max([-1.0, -3.0]) >= 0)
    assert min_max([1.0, float("inf")]).tolist() == [1.0, 1.0]
