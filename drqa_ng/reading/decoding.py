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


_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_TRIM = " \t\n\r,;:"


def balanced_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` cut (``_cut_once`` until nothing changes) so that it holds no half of a bracket pair, as character offsets.

    Span decoding scores token boundaries only, so a span can open inside a parenthesis and end outside
    it ("Fe) is a chemical element and a metal" from "Iron (symbol Fe) is ...") or stop inside one
    ("6 miles (9.7 km"). Scanning the span left to right with a stack of open brackets ``( [ {``:

    - the first closer with no opener inside the span at position i: the span began inside a
      parenthetical, so keep ``[start, i)``, or ``(i, end)`` when nothing stands before it;
    - otherwise the outermost opener still open at the end, at position i: keep ``[start, i)``, or
      ``(i, end)`` when the span begins with it.

    Leading/trailing whitespace and ``, ; :`` are trimmed off a cut span; a span with balanced brackets,
    or one a cut would leave empty, comes back unchanged. Pure: no model, no state.
    """
    while True:
        cut = _cut_once(text, start, end)
        if cut == (start, end):
            return cut
        start, end = cut


def _cut_once(text: str, start: int, end: int) -> tuple[int, int]:
    """One cut of ``balanced_span``."""
    span = text[start:end]
    stack: list[int] = []
    cut: int | None = None
    for i, ch in enumerate(span):
        if ch in _OPEN:
            stack.append(i)
        elif ch in _CLOSE:
            if stack and span[stack[-1]] == _CLOSE[ch]:
                stack.pop()
            else:
                cut = i
                break
    if cut is None:
        if not stack:
            return start, end
        cut = stack[0]
    left, right = (0, cut), (cut + 1, len(span))
    for a, b in (left, right):
        piece = span[a:b]
        stripped = piece.strip(_TRIM)
        if stripped:
            lead = len(piece) - len(piece.lstrip(_TRIM))
            return start + a + lead, start + a + lead + len(stripped)
    return start, end
