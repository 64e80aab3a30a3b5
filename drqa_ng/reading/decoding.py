"""Span decoding: the best answer spans from start/end logits. Pure numpy, no model here."""

from __future__ import annotations

import numpy as np


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context_mask: np.ndarray,
    max_answer_len: int = 30,
    top_k: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``top_k`` highest-scoring token spans of each row.

    For row ``r`` with start logits ``s`` and end logits ``e`` the span ``(i, j)`` scores

        score(i, j) = s_i + e_j,   subject to  i <= j < i + max_answer_len,  mask_i = mask_j = 1

    (the un-normalised span score of BERT-style readers: Devlin et al. 2019, §4.2; DrQA's
    ``decode`` uses the product of the softmaxes, the same ranking inside one window). Returns three
    ``(rows, top_k)`` arrays: start index, end index (inclusive) and score, best first; slots with no
    valid span hold start = end = -1 and score = -inf.
    """
    s = np.asarray(start_logits, dtype=np.float64)
    e = np.asarray(end_logits, dtype=np.float64)
    m = np.asarray(context_mask, dtype=bool)
    if s.ndim != 2 or s.shape != e.shape or s.shape != m.shape:
        raise ValueError(f"logits and mask must share one 2-D shape, got {s.shape}, {e.shape}, {m.shape}")
    if max_answer_len < 1 or top_k < 1:
        raise ValueError("max_answer_len and top_k must be >= 1")
    rows, length = s.shape
    # score only the band j - i < max_answer_len: (rows, length, width) instead of length x length
    width = min(max_answer_len, length)
    ends_of = np.arange(length)[:, None] + np.arange(width)[None, :]
    inside = ends_of < length
    ends_of = np.minimum(ends_of, length - 1)
    scores = s[:, :, None] + e[:, ends_of]
    valid = inside[None, :, :] & m[:, :, None] & m[:, ends_of]
    scores = np.where(valid, scores, -np.inf).reshape(rows, length * width)
    k = min(top_k, length * width)
    part = np.zeros((rows, 0), dtype=np.int64) if k == 0 else np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    flat = np.take_along_axis(part, order, axis=1)
    top = np.take_along_axis(part_scores, order, axis=1)
    starts = flat // max(width, 1)
    ends = starts + flat % max(width, 1)
    bad = ~np.isfinite(top)
    starts[bad] = -1
    ends[bad] = -1
    if k < top_k:
        pad = top_k - k
        starts = np.pad(starts, ((0, 0), (0, pad)), constant_values=-1)
        ends = np.pad(ends, ((0, 0), (0, pad)), constant_values=-1)
        top = np.pad(top, ((0, 0), (0, pad)), constant_values=-np.inf)
    return starts.astype(np.int64), ends.astype(np.int64), top
