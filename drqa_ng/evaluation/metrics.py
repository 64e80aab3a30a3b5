"""Answer metrics: pure functions, formulas as in the official scripts they follow.

- ``normalize_answer``, ``exact_match``, ``f1_score``: SQuAD v1.1 (defined in ``drqa_ng.normalize``,
  which the library shares; re-exported here with the other metrics).
- ``regex_match``: DrQA's ``--regex`` mode for CuratedTREC: the gold answer is a regular
  expression, matched case-insensitively against the prediction (``re.match`` anchored at start,
  as DrQA does via ``pattern.match``). ``regex_in_text`` uses ``search`` for passage recall.
- ``has_answer``: DrQA/DPR retrieval recall: the normalised token sequence of any gold answer
  occurs as a contiguous token subsequence of the normalised passage.
- ``answer_match`` / ``passage_match``: the answer / passage test of a question set, by whether its
  gold answers are regexes (CuratedTREC) or strings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from drqa_ng.normalize import exact_match, f1_score, normalize_answer

__all__ = [
    "answer_match",
    "exact_match",
    "f1_score",
    "has_answer",
    "normalize_answer",
    "passage_match",
    "regex_in_text",
    "regex_match",
]


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, flags=re.IGNORECASE | re.UNICODE | re.MULTILINE)
    except re.error:
        return None


def regex_match(prediction: str, patterns: Sequence[str]) -> float:
    """1 if any gold regex matches the prediction from its start (DrQA ``regex_match``); bad regexes never match."""
    for pat in patterns:
        rx = _compile(pat)
        if rx is not None and rx.match(prediction) is not None:
            return 1.0
    return 0.0


def regex_in_text(text: str, patterns: Sequence[str]) -> bool:
    """True if any gold regex occurs anywhere in ``text`` (retrieval recall in regex mode)."""
    for pat in patterns:
        rx = _compile(pat)
        if rx is not None and rx.search(text) is not None:
            return True
    return False


_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _recall_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFD", text)
    return [t.lower() for t in _TOKEN.findall(text)]


def has_answer(text: str, golds: Sequence[str]) -> bool:
    """True if some gold answer's token sequence occurs contiguously in ``text`` (DrQA/DPR recall)."""
    tokens = _recall_tokens(text)
    for gold in golds:
        g = _recall_tokens(gold)
        if not g:
            continue
        n = len(g)
        first = g[0]
        for i in range(len(tokens) - n + 1):
            if tokens[i] == first and tokens[i : i + n] == g:
                return True
    return False


def answer_match(prediction: str, golds: Sequence[str], regex: bool = False) -> float:
    """``regex_match`` when the golds are regexes, else ``exact_match`` (1.0 or 0.0)."""
    return regex_match(prediction, golds) if regex else exact_match(prediction, golds)


def passage_match(text: str, golds: Sequence[str], regex: bool = False) -> bool:
    """``regex_in_text`` when the golds are regexes, else ``has_answer``: does ``text`` hold an answer?"""
    return regex_in_text(text, golds) if regex else has_answer(text, golds)
