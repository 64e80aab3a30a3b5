"""Feature hashing: filtered n-grams -> murmur3 buckets (the DrQA "hashed n-gram" vocabulary).

Each feature string (a unigram, or tokens joined by one space for a bigram, as DrQA does) is
hashed with 32-bit MurmurHash3 (x86_32, seed 0) read as an UNSIGNED integer
(``mmh3.hash(s, 0, signed=False)``, the same value as scikit-learn's
``murmurhash3_32(s, positive=True)`` that DrQA uses), then reduced ``% buckets``.
Collisions are accepted by design: the vocabulary needs no storage and is unbounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import mmh3
import numpy as np

from drqa_ng.retrieval.tokenize import (
    FILTER_MODES,
    TOKENIZER_NAME,
    TOKENIZER_VERSION,
    FilterMode,
    ngrams,
    token_texts,
)

HASH_NAME = "murmur3_x86_32/seed0/unsigned"
DEFAULT_BUCKETS = 2**24


@dataclass(frozen=True, slots=True)
class HashSpec:
    """Everything that decides which bucket a piece of text lands in; stored in index manifests."""

    buckets: int = DEFAULT_BUCKETS
    ngrams: int = 2
    filter_mode: FilterMode = "any"
    tokenizer: str = TOKENIZER_NAME
    tokenizer_version: int = TOKENIZER_VERSION
    hash: str = HASH_NAME

    def __post_init__(self) -> None:
        if not 1 <= self.buckets <= 2**32:
            raise ValueError(f"buckets must be in [1, 2**32], got {self.buckets}")
        if not 1 <= self.ngrams <= 3:
            raise ValueError(f"ngrams must be 1, 2 or 3, got {self.ngrams}")
        if self.filter_mode not in FILTER_MODES:
            raise ValueError(f"unknown filter mode {self.filter_mode!r}")


def hash_features(features: Sequence[str], buckets: int) -> np.ndarray:
    """Bucket id (int64) of each feature string: ``mmh3_32_unsigned(feature) % buckets``."""
    n = len(features)
    hashes = np.fromiter(map(mmh3.hash, features, repeat(0), repeat(False)), dtype=np.uint64, count=n)
    return (hashes % np.uint64(buckets)).astype(np.int64)


def text_buckets(text: str, spec: HashSpec) -> np.ndarray:
    """Bucket ids of all filtered n-gram features of ``text`` (with repeats, in text order)."""
    return hash_features(ngrams(token_texts(text), spec.ngrams, spec.filter_mode), spec.buckets)


def bucket_counts(texts: Sequence[str], spec: HashSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text: (sorted unique bucket ids, their counts), as ``np.unique(..., return_counts=True)``."""
    out = []
    for t in texts:
        u, c = np.unique(text_buckets(t, spec), return_counts=True)
        out.append((u, c))
    return out
