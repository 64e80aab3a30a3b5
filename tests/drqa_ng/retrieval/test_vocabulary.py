from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError
from drqa_ng.retrieval.vocabulary import TERMS_FILE, Vocabulary, term_digests
from indexing.vocabulary import build_vocabulary


def test_vocabulary_of_a_doc_store_knows_exactly_its_tokens(tiny_docstore: Path, tmp_path: Path) -> None:
    n = build_vocabulary(tiny_docstore, tmp_path / "vocab")
    v = Vocabulary.open(tmp_path / "vocab")
    assert len(v) == n > 10
    assert v.known(["paris", "capital", "zxcvq", "pari"]) == [True, True, False, False]
    assert v.known([]) == []


def test_digests_are_stable_and_distinct() -> None:
    a = term_digests(["paris", "berlin", "paris"])
    assert a.dtype == np.uint64 and a[0] == a[2] != a[1]


def test_corrupt_vocabulary_fails_loudly(tiny_docstore: Path, tmp_path: Path) -> None:
    build_vocabulary(tiny_docstore, tmp_path / "vocab")
    np.save(tmp_path / "vocab" / TERMS_FILE, np.zeros(3, dtype=np.int32))
    with pytest.raises(IndexFormatError):
        Vocabulary.open(tmp_path / "vocab")
