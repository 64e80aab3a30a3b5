"""Unicode-aware word tokenizer with character offsets, plus DrQA-style n-gram filtering.

Tokens are maximal runs of letters, digits and combining marks (``[\\p{L}\\p{N}\\p{M}]+``), or a
single other non-space character (punctuation, symbols). CJK ideographs and kana are one token per
character, because those scripts do not separate words with spaces; character bigrams then act as
the words (the usual approach for CJK retrieval). Token text is NFD-normalised and lowercased;
offsets always point into the ORIGINAL string, so ``text[tok.start:tok.end]`` is the surface form.

N-gram filtering follows DrQA's ``retriever.utils.filter_ngram``: a token is *filterable* when it
is a stopword or punctuation; with ``mode="any"`` (DrQA's default in ``build_tfidf.py``) an n-gram
is dropped when any of its tokens is filterable, with ``mode="all"`` only when all of them are.

We use the third-party ``regex`` module rather than ``re`` because ``re`` has no ``\\p{M}``: with
``re``'s ``\\w`` a Devanagari vowel sign or an NFD accent would split a word in two.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, islice
from operator import and_, not_, or_
from typing import Literal

import regex

TOKENIZER_NAME = "drqa_ng.simple"
TOKENIZER_VERSION = 1

FilterMode = Literal["any", "all"]
FILTER_MODES: tuple[FilterMode, ...] = ("any", "all")

# U+3099/309A (combining kana voicing marks, produced by NFD) are excluded so they stay attached.
_CJK = r"\u3040-\u3098\u309b-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Order matters: a CJK character first (one token each), then a word run that excludes CJK,
# then any single non-space character left over (punctuation, symbols, underscore).
_TOKEN_PATTERN = rf"[{_CJK}]\p{{M}}*|[[\p{{L}}\p{{N}}\p{{M}}]--[{_CJK}]]+|[^\p{{L}}\p{{N}}\p{{M}}\s]"
_TOKEN_RE = regex.compile(_TOKEN_PATTERN, regex.V1)
# The same tokens for pure-ASCII lowercase text, with the stdlib ``re`` (about 3x faster than the
# pattern above): most English passages are ASCII and this is the hot loop of indexing.
# Whitespace is spelled out to match ``regex``'s ``\s`` (which excludes \x1c-\x1f, unlike ``re``).
_ASCII_TOKEN_RE = re.compile(r"[a-z0-9]+|[^a-z0-9 \t\n\x0b\x0c\r]")
_WORD_RE = regex.compile(r"[\p{L}\p{N}\p{M}]")

# A plain English stopword list written for this project (function words, pronouns, auxiliaries,
# contraction fragments left by the tokenizer), in the spirit of DrQA's list.
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "couldn",
        "d",
        "did",
        "didn",
        "do",
        "does",
        "doesn",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn",
        "has",
        "hasn",
        "have",
        "haven",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "it",
        "its",
        "itself",
        "just",
        "ll",
        "m",
        "me",
        "might",
        "mightn",
        "more",
        "most",
        "must",
        "mustn",
        "my",
        "myself",
        "need",
        "needn",
        "no",
        "nor",
        "not",
        "now",
        "o",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "re",
        "s",
        "same",
        "shall",
        "shan",
        "she",
        "should",
        "shouldn",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "ve",
        "very",
        "was",
        "wasn",
        "we",
        "were",
        "weren",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "won",
        "would",
        "wouldn",
        "y",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "however",
        "may",
        "whose",
        "upon",
        "yet",
        "though",
    ]
)


_FILTERABLE_ASCII: frozenset[str] = STOPWORDS | frozenset(
    c for c in map(chr, range(128)) if not c.isalnum() and c not in " \t\n\x0b\x0c\r"
)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: normalised ``text`` and ``[start, end)`` offsets into the original string."""

    text: str
    start: int
    end: int


def normalize(text: str) -> str:
    """The normal form used for matching: NFD, then lowercase."""
    return unicodedata.normalize("NFD", text).lower()


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text`` with offsets into ``text`` itself; each token's text is ``normalize``d."""
    return [Token(normalize(m.group()), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def tokenize_batch(texts: Sequence[str]) -> list[list[Token]]:
    """``tokenize`` for many texts."""
    return [tokenize(t) for t in texts]


def token_texts(text: str) -> list[str]:
    """Normalised token strings only (the fast path for indexing: no offsets, no objects).

    Normalises the whole string first, then splits; equal to ``[t.text for t in tokenize(text)]``
    for ordinary text (they can differ only where NFD or lowercasing changes a token boundary).
    """
    if text.isascii():  # NFD is the identity on ASCII
        return _ASCII_TOKEN_RE.findall(text.lower())
    return _TOKEN_RE.findall(normalize(text))


def is_filterable(token: str) -> bool:
    """DrQA's ``filter_word``: a stopword or a token with no letter, digit or mark (punctuation)."""
    if token in STOPWORDS:
        return True
    # Word runs always contain a letter/digit/mark; punctuation tokens are single characters.
    return len(token) == 1 and _WORD_RE.match(token) is None


def _filter_flags(tokens: Sequence[str]) -> list[bool]:
    """``is_filterable`` of every token, fast for ASCII (a set lookup covers stopwords + punctuation)."""
    flags = list(map(_FILTERABLE_ASCII.__contains__, tokens))
    if not "".join(tokens).isascii():
        flags = [f or (len(t) == 1 and _WORD_RE.match(t) is None) for t, f in zip(tokens, flags, strict=True)]
    return flags


def ngrams(tokens: Sequence[str], n: int = 2, mode: FilterMode = "any") -> list[str]:
    """All 1..n-grams of ``tokens`` (joined by one space) that survive DrQA-style filtering.

    ``mode="any"`` drops an n-gram if any token is filterable (DrQA's default); ``"all"`` drops it
    only if every token is. Unigrams come first, then bigrams, and so on, each in text order.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if mode not in FILTER_MODES:
        raise ValueError(f"unknown filter mode {mode!r}")
    # This is the hot loop of indexing (once per corpus token), so it runs on C-level iterators
    # (map/compress/zip) rather than Python-level comprehensions: about 2x faster.
    keep = list(map(not_, _filter_flags(tokens)))
    out = list(compress(tokens, keep))
    if n >= 2:
        both = map(and_ if mode == "any" else or_, keep, islice(keep, 1, None))
        out += map(" ".join, compress(zip(tokens, islice(tokens, 1, None), strict=False), both))
    need = all if mode == "any" else any
    for size in range(3, n + 1):
        for i in range(len(tokens) - size + 1):
            if need(keep[i : i + size]):
                out.append(" ".join(tokens[i : i + size]))
    return out


def ngrams_of_texts(texts: Iterable[str], n: int = 2, mode: FilterMode = "any") -> list[list[str]]:
    """Filtered n-gram features of many texts (tokenize with ``token_texts``, then ``ngrams``)."""
    return [ngrams(token_texts(t), n, mode) for t in texts]
