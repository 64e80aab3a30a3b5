"""Build a vocabulary folder (``drqa_ng.retrieval.vocabulary``) from a doc store: one pass over
the documents, distinct tokens of each title and text kept in memory (~1M strings for Simple English
Wikipedia), written atomically."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from drqa_ng.index_io import atomic_dir
from drqa_ng.retrieval.tokenize import token_texts
from drqa_ng.retrieval.vocabulary import write_vocabulary
from drqa_ng.store.docstore import DocStore


def build_vocabulary(docs: Path, out: Path, progress: bool = False) -> int:
    """Every distinct token of the store's documents into the folder ``out``; returns the count."""
    terms: set[str] = set()
    with DocStore.open(docs) as store:
        total = store.info().documents
        for d in tqdm(
            store.iter_documents(), total=total, desc="vocabulary", disable=not progress, file=sys.stderr
        ):
            terms.update(token_texts(d.title))
            terms.update(token_texts(d.text))
        corpus_hash = store.corpus_hash()
    with atomic_dir(Path(out)) as tmp:
        return write_vocabulary(tmp, sorted(terms), corpus_hash, str(Path(docs).resolve()))
