"""Pure scoring functions for hashed sparse retrieval: DrQA TF-IDF and Okapi BM25.

Notation: ``N`` units in the index, ``df`` (``Nt``) units containing a term, ``tf`` count of the term
in a unit, ``dl`` the unit's length (number of n-gram features, repeats included), ``avgdl`` the
mean ``dl``, ``qtf`` count of the term in the query. A query's score for a unit is always
``sum_t query_weight(t) * doc_weight(t, unit)``, so the index stores ``doc_weight`` once and a
query is a weighted sum of a few columns.

``min_max`` scales one list of scores to [0, 1]; hybrid fusion and the QA pipeline both use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BM25_EPSILON = 0.25


def min_max(scores: Sequence[float]) -> np.ndarray:
    """Min-max scale one list to [0, 1]: ``(s - min) / (max - min)`` (Lee, SIGIR 1997).

    All ones when every score is equal (or there is one score, or max - min <= 1e-12, or a score is
    not finite); an empty list gives an empty array. float64 throughout.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    lo, hi = float(s.min()), float(s.max())
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo <= 1e-12:
        return np.ones_like(s)
    return (s - lo) / (hi - lo)


def tfidf_idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """DrQA idf: ``idf = max(0, log((N - Nt + 0.5) / (Nt + 0.5)))``.

    Source: DrQA ``scripts/retriever/build_tfidf.py::get_tfidf_matrix`` and
    ``drqa/retriever/tfidf_doc_ranker.py::text2spvec`` (negative idfs set to 0).
    """
    df = np.asarray(df, dtype=np.float64)
    idf = np.log((n_docs - df + 0.5) / (df + 0.5))
    return np.maximum(idf, 0.0)


def tfidf_doc_weights(tf: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """DrQA document weight: ``w = log(1 + tf) * idf`` (same formula for the query vector).

    DrQA scores a unit with the dot product of the query's and the unit's tf-idf vectors, with
    no length normalisation (``TfidfDocRanker.closest_docs``: ``spvec * doc_mat``).
    """
    return np.log1p(np.asarray(tf, dtype=np.float64)) * idf


def tfidf_query_weights(qtf: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Query side of DrQA TF-IDF: ``log(1 + qtf) * idf`` (``TfidfDocRanker.text2spvec``)."""
    return tfidf_doc_weights(qtf, idf)


def bm25_idf(df: np.ndarray, n_docs: int, epsilon: float = BM25_EPSILON) -> tuple[np.ndarray, float]:
    """Okapi BM25 idf with rank_bm25's floor; returns ``(idf, average_idf)``.

    ``idf = log(N - Nt + 0.5) - log(Nt + 0.5)``; ``average_idf`` is the mean of these (before the
    floor) over all terms with ``Nt > 0``; every negative idf is then replaced by
    ``epsilon * average_idf``. Source: ``rank_bm25.BM25Okapi._calc_idf`` (rank-bm25 0.2.2).
    Entries with ``Nt == 0`` are returned as 0 (they never occur in a unit).
    """
    df = np.asarray(df, dtype=np.float64)
    present = df > 0
    idf = np.zeros(df.shape, dtype=np.float64)
    idf[present] = np.log(n_docs - df[present] + 0.5) - np.log(df[present] + 0.5)
    average_idf = float(idf[present].mean()) if present.any() else 0.0
    idf[present & (idf < 0)] = epsilon * average_idf
    return idf, average_idf


def bm25_doc_weights(
    tf: np.ndarray, idf: np.ndarray, dl: np.ndarray, avgdl: float, k1: float = 1.5, b: float = 0.75
) -> np.ndarray:
    """Okapi BM25 term weight, exactly as ``rank_bm25.BM25Okapi.get_scores``:

    ``w = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``.

    ``avgdl == 0`` (every unit empty) is treated as 1 to avoid dividing by zero.
    """
    tf = np.asarray(tf, dtype=np.float64)
    dl = np.asarray(dl, dtype=np.float64)
    norm = k1 * (1.0 - b + b * dl / (avgdl if avgdl > 0 else 1.0))
    return idf * tf * (k1 + 1.0) / (tf + norm)


def bm25_query_weights(qtf: np.ndarray) -> np.ndarray:
    """Query side of BM25Okapi: each query token occurrence adds its term's weight once, so ``qtf``."""
    return np.asarray(qtf, dtype=np.float64)
