"""Question + passage pairs -> fixed-length token windows with char offsets (and training targets).

Long passages are split into overlapping windows (``stride`` tokens shared between neighbours) with
the Rust ``tokenizers`` library directly (the same truncation + overflow + post-processing settings
the HF fast tokenizer applies, without importing transformers: inference must start fast); each window
keeps the char offsets of its passage tokens so a token span maps straight back to
``passage[start:end]``. The model's own post-processor adds its special tokens, so BERT-style
(``[CLS] q [SEP] p [SEP]``, token types 0/1) and RoBERTa-style (``<s> q </s></s> p </s>``, no token
types) checkpoints both work.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drqa_ng.subword import load_tokenizer, pad_id

__all__ = ["MAX_QUESTION_TOKENS", "Windows", "load_tokenizer", "make_windows", "pad_id", "window_tokenizer"]

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

    def model_inputs(self, declared: Collection[str]) -> dict[str, np.ndarray]:
        """The ONNX feeds among ``declared`` (a session's input names): RoBERTa-style exports take no
        ``token_type_ids``."""
        feeds = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }
        return {k: v for k, v in feeds.items() if k in declared}

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


def as_tokenizers(tokenizer: Any) -> Any:
    """The Rust ``tokenizers.Tokenizer`` behind ``tokenizer`` (an HF fast tokenizer is unwrapped and
    copied, so its truncation/padding state is never changed), truncation and padding off."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        if getattr(tokenizer, "truncation", None) is None and getattr(tokenizer, "padding", None) is None:
            return tokenizer
        backend = tokenizer
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(backend.to_str())
    tok.no_truncation()
    tok.no_padding()
    return tok


def window_tokenizer(tokenizer: Any, max_length: int, stride: int) -> Any:
    """A private copy of ``tokenizer`` that cuts (question, passage) pairs into windows: truncation of
    the passage only, to ``max_length`` tokens, overflowing windows sharing ``stride`` tokens (the
    settings the HF fast tokenizer applies for ``truncation="only_second", stride=...``)."""
    from tokenizers import Tokenizer

    base = getattr(tokenizer, "backend_tokenizer", tokenizer)
    tok = Tokenizer.from_str(base.to_str())
    tok.no_padding()
    tok.enable_truncation(max_length, stride=stride, strategy="only_second")
    return tok


def make_windows(
    tokenizer: Any,
    questions: Sequence[str],
    passages: Sequence[str],
    max_length: int = 384,
    stride: int = 128,
    *,
    windower: Any = None,
) -> Windows:
    """Tokenise ``(questions[i], passages[i])`` pairs into windows of at most ``max_length`` tokens.

    Questions are clipped to ``MAX_QUESTION_TOKENS`` tokens; ``stride`` is the number of passage
    tokens repeated between consecutive windows of one passage; the model's post-processor adds its
    special tokens. Rows are in pair order, a pair's windows in passage order. ``tokenizer`` is a
    ``tokenizers.Tokenizer`` (``load_tokenizer``) or an HF fast tokenizer; ``windower`` is
    ``window_tokenizer(tokenizer, max_length, stride)`` made once by callers that tokenise often.
    """
    if len(questions) != len(passages):
        raise ValueError("questions and passages must have the same length")
    if not questions:
        z = np.zeros((0, 0), dtype=np.int64)
        return Windows(z, z, z, np.zeros((0, 0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64))
    plain = as_tokenizers(tokenizer)
    windower = windower or window_tokenizer(plain, max_length, stride)
    q_enc = plain.encode_batch(list(questions), add_special_tokens=False)
    clipped = [
        q[: e.offsets[MAX_QUESTION_TOKENS - 1][1]] if len(e) > MAX_QUESTION_TOKENS else q
        for q, e in zip(questions, q_enc, strict=True)
    ]
    try:
        pairs = windower.encode_batch(list(zip(clipped, passages, strict=True)))
    except Exception as err:  # tokenizers raises plain Exception, e.g. a question longer than max_length
        raise ValueError(f"cannot cut windows of {max_length} tokens (stride {stride}): {err}") from err
    encs = []
    pair = []
    for i, enc in enumerate(pairs):
        for w in (enc, *enc.overflowing):
            encs.append(w)
            pair.append(i)
    n, length = len(encs), max(len(e) for e in encs)
    ids = np.full((n, length), pad_id(plain), dtype=np.int64)
    mask = np.zeros((n, length), dtype=np.int64)
    types = np.zeros((n, length), dtype=np.int64)
    offsets = np.full((n, length, 2), -1, dtype=np.int64)
    for r, e in enumerate(encs):
        k = len(e)
        ids[r, :k] = e.ids
        mask[r, :k] = 1
        types[r, :k] = e.type_ids
        seq = np.array([-1 if s is None else s for s in e.sequence_ids], dtype=np.int64)
        ctx = np.nonzero(seq == 1)[0]
        if len(ctx):
            offsets[r, ctx] = np.asarray(e.offsets, dtype=np.int64)[ctx]
    return Windows(
        input_ids=ids,
        attention_mask=mask,
        token_type_ids=types,
        offsets=offsets,
        pair=np.asarray(pair, dtype=np.int64),
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
