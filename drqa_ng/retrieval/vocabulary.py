"""The exact word list of a corpus, as a folder: which question words does the index know?

The sparse index hashes terms into 2^24 shared buckets, so it cannot say whether a word occurs in
the corpus (a made-up word shares a bucket with real ones). This folder can:

- ``manifest.json``: kind "vocabulary", format version 1, ``terms`` (count), ``corpus_hash``, ``docs``.
- ``terms.npy``: uint64, sorted, unique: the 64-bit BLAKE2b digest of every distinct token
  (``retrieval.tokenize.token_texts`` of each document's title and text).

A lookup is a binary search (``np.searchsorted``). Two distinct words share a digest with
probability about n / 2^64 per lookup (n = terms, ~10^6): no practical false "known".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from drqa_ng.errors import IndexFormatError
from drqa_ng.index_io import load_array, load_fields, write_manifest

KIND = "vocabulary"
FORMAT_VERSION = 1
TERMS_FILE = "terms.npy"


def term_digests(terms: Iterable[str]) -> np.ndarray:
    """uint64 BLAKE2b-64 digest of each term's UTF-8 bytes (little-endian), in input order."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little") for t in terms),
        dtype=np.uint64,
    )


def write_vocabulary(
    folder: Path, terms: Iterable[str], corpus_hash: str = "", docs: str | None = None
) -> int:
    """Write ``terms.npy`` and ``manifest.json`` into the (existing, empty) ``folder``; returns the count."""
    digests = np.unique(term_digests(terms))
    np.save(Path(folder) / TERMS_FILE, digests)
    write_manifest(folder, KIND, FORMAT_VERSION, terms=len(digests), corpus_hash=corpus_hash, docs=docs)
    return len(digests)


class Vocabulary:
    """A memory-mapped sorted digest array; ``known`` answers a batch of words."""

    def __init__(self, path: Path, digests: np.ndarray) -> None:
        self.path = Path(path)
        self._digests = digests

    @classmethod
    def open(cls, path: Path) -> Vocabulary:
        """Open a vocabulary folder (NotFoundError / IndexFormatError on a bad one)."""
        path = Path(path)
        f = load_fields(path, KIND, FORMAT_VERSION)
        digests = load_array(path, TERMS_FILE)
        if digests.dtype != np.uint64 or digests.ndim != 1 or len(digests) != f.integer("terms"):
            raise IndexFormatError(
                f"{path} is corrupt: {TERMS_FILE} does not hold {f.integer('terms')} uint64"
            )
        return cls(path, digests)

    def __len__(self) -> int:
        return len(self._digests)

    def known(self, words: Sequence[str]) -> list[bool]:
        """Whether each word (already a normalised token) occurs in the corpus."""
        if not words or not len(self._digests):
            return [False] * len(words)
        q = term_digests(words)
        pos = np.minimum(np.searchsorted(self._digests, q), len(self._digests) - 1)
        return [bool(b) for b in self._digests[pos] == q]
