"""Question + passage pairs -> fixed-length token windows with char offsets (and training targets).

Long passages are split into overlapping windows (``stride`` tokens shared between neighbours) by the
HF fast tokenizer (``return_overflowing_tokens``); each window keeps the char offsets of its passage
tokens so a token span maps straight back to ``passage[start:end]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class Windows:
    """Tokenised windows, one row each, right-padded to the longest row.

    ``offsets[r, t]`` = (char start, char end) of token ``t`` in its passage, (-1, -1) for question,
    special and pad tokens; ``pair[r]`` = index of the (question, passage) pair the row came from.
    """

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    offsets: np.ndarray
    pair: np.ndarray

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def context_mask(self) -> np.ndarray:
        return self.offsets[:, :, 0] >= 0

    def rows(self, sel: np.ndarray | slice) -> Windows:
        """A subset of rows, trimmed to its own longest row (so a batch pads only as far as it needs)."""
        am = self.attention_mask[sel]
        n = int(am.sum(axis=1).max()) if len(am) else 0
        return Windows(
            input_ids=self.input_ids[sel][:, :n],
            attention_mask=am[:, :n],
            token_type_ids=self.token_type_ids[sel][:, :n],
            offsets=self.offsets[sel][:, :n],
            pair=self.pair[sel],
        )


def _clip_questions(tokenizer: Any, questions: Sequence[str]) -> list[str]:
    """Cut over-long questions at ``MAX_QUESTION_TOKENS`` tokens so ``only_second`` truncation always fits."""
    enc = tokenizer(list(questions), add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for q, offs in zip(questions, enc["offset_mapping"], strict=True):
        out.append(q[: offs[MAX_QUESTION_TOKENS - 1][1]] if len(offs) > MAX_QUESTION_TOKENS else q)
    return out


def make_windows(
    tokenizer: Any,
    questions: Sequence[str],
    passages: Sequence[str],
    max_length: int = 384,
    stride: int = 128,
) -> Windows:
    """Tokenise ``(questions[i], passages[i])`` pairs into windows of at most ``max_length`` tokens.

    ``stride`` is the number of passage tokens repeated between consecutive windows of one passage.
    """
    if len(questions) != len(passages):
        raise ValueError("questions and passages must have the same length")
    if not questions:
        z = np.zeros((0, 0), dtype=np.int64)
        return Windows(z, z, z, np.zeros((0, 0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64))
    enc = tokenizer(
        _clip_questions(tokenizer, questions),
        list(passages),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        return_token_type_ids=True,
    )
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    n, length = ids.shape
    offsets = np.full((n, length, 2), -1, dtype=np.int64)
    for r in range(n):
        seq = enc.sequence_ids(r)
        for t, (sid, off) in enumerate(zip(seq, enc["offset_mapping"][r], strict=True)):
            if sid == 1:
                offsets[r, t] = off
    return Windows(
        input_ids=ids,
        attention_mask=np.asarray(enc["attention_mask"], dtype=np.int64),
        token_type_ids=np.asarray(enc["token_type_ids"], dtype=np.int64),
        offsets=offsets,
        pair=np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64),
    )


def answer_positions(windows: Windows, char_starts: Sequence[int], char_ends: Sequence[int]) -> np.ndarray:
    """Training targets: ``(rows, 2)`` token start/end of each window's answer, (0, 0) = the [CLS] slot
    when the answer (chars ``[char_starts[p], char_ends[p])`` of pair ``p``) is not wholly inside the window.
    """
    out = np.zeros((len(windows), 2), dtype=np.int64)
    for r in range(len(windows)):
        p = int(windows.pair[r])
        cs, ce = char_starts[p], char_ends[p]
        offs = windows.offsets[r]
        ctx = np.nonzero(offs[:, 0] >= 0)[0]
        if len(ctx) == 0 or offs[ctx[0], 0] > cs or offs[ctx[-1], 1] < ce:
            continue
        starts = ctx[offs[ctx, 0] <= cs]
        ends = ctx[offs[ctx, 1] >= ce]
        if len(starts) and len(ends):
            out[r] = (starts[-1], ends[0])
    return out
