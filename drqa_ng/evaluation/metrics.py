"""Answer metrics: pure functions, formulas as in the official scripts they follow.

- ``normalize_answer``, ``exact_match``, ``f1_score``: SQuAD v1.1 official evaluation script
  (Rajpurkar et al., 2016): lower-case, drop punctuation, drop articles (a, an, the), squash
  whitespace; EM = 1[norm(pred) == norm(gold)]; F1 over bag-of-token overlap,
  P = |common|/|pred|, R = |common|/|gold|, F1 = 2PR/(P+R); the max over gold answers is taken.
- ``regex_match``: DrQA's ``--regex`` mode for CuratedTREC: the gold answer is a regular
  expression, matched case-insensitively against the prediction (``re.match`` anchored at start,
  as DrQA does via ``pattern.match``). ``regex_in_text`` uses ``search`` for passage recall.
- ``has_answer``: DrQA/DPR retrieval recall: the normalised token sequence of any gold answer
  occurs as a contiguous token subsequence of the normalised passage.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation: lower, remove punctuation, articles and extra whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """max over golds of 1[normalize(prediction) == normalize(gold)]; 0 when there is no gold."""
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in golds))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    """max over golds of token-overlap F1 = 2PR/(P+R) on normalised whitespace tokens."""
    p = normalize_answer(prediction).split()
    return max((_f1(p, normalize_answer(g).split()) for g in golds), default=0.0)


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
