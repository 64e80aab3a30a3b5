"""Does a question carry content the index knows? Questions that do not are abstained on, unread.

A question's *content words* are its tokens (``retrieval.tokenize``) after dropping invisible
characters (Unicode categories Cc control, Cf format such as zero-width spaces, Co private use,
Cn unassigned) and DrQA's filterable tokens (stopwords, punctuation). A content word is *known*
when it occurs in the corpus: ``known`` is a batch lookup such as ``Vocabulary.known``, exact on
purpose (the sparse index hashes terms into shared buckets, so a made-up word like "zxcv" still
retrieves something there).

    known_fraction(q) = |{w ∈ content(q) : known(w)}| / |content(q)|
    has_content(q)    = content(q) ≠ ∅  and  known_fraction(q) ≥ min_known

``min_known`` = 0.5 (``MIN_KNOWN``): gibberish one of whose words happens to exist ("xqzv blorf
wibble") is still refused, and a question with one unknown word of two ("Is Shakespeare in
Hamlett?") is still read. Without a word list only the first condition applies.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

from drqa_ng.retrieval.tokenize import is_filterable, token_texts

MIN_KNOWN = 0.5
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cn"})

KnownWords = Callable[[Sequence[str]], list[bool]]
"""A batch lookup: for each normalised token, whether the corpus has it (``Vocabulary.known``)."""


def visible(text: str) -> str:
    """``text`` without control, format (zero-width), private-use and unassigned characters."""
    return "".join(c for c in text if unicodedata.category(c) not in _INVISIBLE or c in "\t\n\r")


def content_words(question: str) -> list[str]:
    """The distinct non-filterable tokens of ``question`` (invisible characters dropped), in order."""
    return list(dict.fromkeys(t for t in token_texts(visible(question)) if not is_filterable(t)))


def known_fraction(words: Sequence[str], known: KnownWords) -> float:
    """Share of ``words`` that ``known`` says the corpus has (0.0 for no words)."""
    if not words:
        return 0.0
    return sum(known(words)) / len(words)


def has_content(question: str, known: KnownWords | None = None, min_known: float = MIN_KNOWN) -> bool:
    """Whether ``question`` has content words and (given ``known``) at least ``min_known`` of them are
    known; see the module docstring."""
    words = content_words(question)
    if not words:
        return False
    return known is None or known_fraction(words, known) >= min_known
