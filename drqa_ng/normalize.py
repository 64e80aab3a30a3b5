"""Answer-text normalisation and the SQuAD string comparisons built on it (pure functions).

Shared by the pipeline (merging spans with the same normalised text), reader training (dev EM/F1)
and evaluation, which all sit on top of this module.

- ``normalize_answer``, ``exact_match``, ``f1_score``: SQuAD v1.1 official evaluation script
  (Rajpurkar et al., 2016): lower-case, drop punctuation, drop articles (a, an, the), squash
  whitespace; EM = 1[norm(pred) == norm(gold)]; F1 over bag-of-token overlap,
  P = |common|/|pred|, R = |common|/|gold|, F1 = 2PR/(P+R); the max over gold answers is taken.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

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
