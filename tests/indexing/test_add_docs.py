"""``add-docs``: appending documents equals a full rebuild (doc store, BM25 arrays, Flat dense vectors)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.cli.main import main
from drqa_ng.config import CONFIG_VERSION
from drqa_ng.errors import UnsupportedError
from drqa_ng.retrieval.sparse import SparseIndex
from drqa_ng.store.docstore import DocStore
from indexing.add_docs import add_documents, update_sparse_index
from indexing.docstore import build_docstore
from indexing.sparse import build_sparse_from_store
from tests.fixtures.corpus import TINY_DOCS
from tests.indexing.test_ray_build import assert_same_arrays

DOCS = [d for d in TINY_DOCS if d.text.strip()]
SPLIT = 3
QUERIES = ["capital of France", "Nobel Prize in Physics", "Python programming language", "Eiffel tower 1889"]


def _tables(path: Path) -> tuple[list[tuple[object, ...]], ...]:
    conn = sqlite3.connect(path)
    try:
        return tuple(
            conn.execute(q).fetchall()
            for q in (
                "SELECT rowid, id, title, title_key, text FROM documents ORDER BY rowid",
                "SELECT * FROM units ORDER BY kind, doc_rowid, ordinal",
                "SELECT key, value FROM meta WHERE key NOT IN ('created', 'sources', 'duplicates', 'empty') ORDER BY key",
            )
        )
    finally:
        conn.close()


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    """(store of the first SPLIT documents, store of all documents)."""
    build_docstore(DOCS[:SPLIT], tmp_path / "part.sqlite", show_progress=False)
    build_docstore(DOCS, tmp_path / "full.sqlite", show_progress=False)
    return tmp_path / "part.sqlite", tmp_path / "full.sqlite"


def test_store_and_bm25_index_equal_a_full_rebuild(stores: tuple[Path, Path], tmp_path: Path) -> None:
    part, full = stores
    build_sparse_from_store(part, tmp_path / "inc", buckets=2**16, chunk_size=3, show_progress=False)
    build_sparse_from_store(full, tmp_path / "ref", buckets=2**16, chunk_size=3, show_progress=False)
    report = add_documents(DOCS[SPLIT:] + DOCS[:1], part, [tmp_path / "inc"])
    assert report.store.documents == len(DOCS) - SPLIT and report.store.duplicates == 1
    assert _tables(part) == _tables(full)
    assert (
        report.indexes[0].units_added
        == DocStore.open(full).count("paragraph") - report.indexes[0].units_before
    )
    assert_same_arrays(tmp_path / "ref", tmp_path / "inc")
    inc, ref = SparseIndex.open(tmp_path / "inc"), SparseIndex.open(tmp_path / "ref")
    assert inc.manifest.avgdl == ref.manifest.avgdl and inc.manifest.corpus_hash == ref.manifest.corpus_hash
    assert inc.search(QUERIES, 5) == ref.search(QUERIES, 5)
    # running again finds nothing to do
    assert update_sparse_index(tmp_path / "inc", DocStore.open(part)).units_added == 0


def test_tfidf_index_is_refused(stores: tuple[Path, Path], tmp_path: Path) -> None:
    part, _ = stores
    build_sparse_from_store(part, tmp_path / "t", scoring="tfidf", buckets=2**16, show_progress=False)
    with pytest.raises(UnsupportedError, match="rebuild"):
        add_documents(DOCS[SPLIT:], part, [tmp_path / "t"])


@pytest.mark.slow
def test_flat_dense_index_equals_a_full_rebuild(stores: tuple[Path, Path], tmp_path: Path) -> None:
    import faiss

    from drqa_ng.index_io import StringArray
    from drqa_ng.retrieval.encoder import Encoder
    from indexing.dense import build_dense_index

    part, full = stores
    enc = Encoder.load(device="cpu", backend="torch")
    build_dense_index(part, tmp_path / "inc", encoder=enc, chunk_size=4, max_length=128)
    build_dense_index(full, tmp_path / "ref", encoder=enc, chunk_size=4, max_length=128)
    n_before = faiss.read_index(str(tmp_path / "inc" / "index.faiss")).ntotal
    assert n_before % 4  # the old last chunk is partial: add-docs must re-encode it
    add_documents(DOCS[SPLIT:], part, [tmp_path / "inc"], encoder=enc)
    a, b = (faiss.read_index(str(tmp_path / d / "index.faiss")) for d in ("inc", "ref"))
    assert list(StringArray.open(tmp_path / "inc", "ids")) == list(StringArray.open(tmp_path / "ref", "ids"))
    np.testing.assert_array_equal(a.reconstruct_n(0, a.ntotal), b.reconstruct_n(0, b.ntotal))


def test_cli_add_docs_to_a_home(
    stores: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    part, full = stores
    home = tmp_path / "home"
    home.mkdir()
    part.rename(home / "docs.sqlite")
    build_sparse_from_store(home / "docs.sqlite", home / "sparse", buckets=2**16, show_progress=False)
    (home / "config.json").write_text(
        json.dumps(
            {
                "format_version": CONFIG_VERSION,
                "docs": "docs.sqlite",
                "indexes": ["sparse"],
                "unit": "paragraph",
            }
        )
    )
    new = tmp_path / "new.jsonl"
    new.write_text(
        "".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS[SPLIT:])
    )
    assert main(["add-docs", str(home), str(new)]) == 0
    assert f"+{len(DOCS) - SPLIT} documents" in capsys.readouterr().out
    build_sparse_from_store(full, tmp_path / "ref", buckets=2**16, show_progress=False)
    assert_same_arrays(tmp_path / "ref", home / "sparse")
    assert main(["add-docs", str(tmp_path / "nowhere"), str(new)]) == 5


def test_cli_add_docs_rebuilds_the_homes_word_list_and_article_index(
    stores: tuple[Path, Path], tmp_path: Path
) -> None:
    from drqa_ng.retrieval.content import content_words
    from drqa_ng.retrieval.vocabulary import Vocabulary
    from indexing.vocabulary import build_vocabulary

    part, _ = stores
    home = tmp_path / "home"
    home.mkdir()
    part.rename(home / "docs.sqlite")
    build_sparse_from_store(home / "docs.sqlite", home / "sparse", buckets=2**16, show_progress=False)
    build_sparse_from_store(
        home / "docs.sqlite",
        home / "articles",
        unit="doc",
        scoring="tfidf",
        buckets=2**16,
        show_progress=False,
    )
    build_vocabulary(home / "docs.sqlite", home / "vocab")
    (home / "config.json").write_text(
        json.dumps(
            {
                "format_version": CONFIG_VERSION,
                "docs": "docs.sqlite",
                "indexes": ["sparse"],
                "unit": "paragraph",
                "vocabulary": "vocab",
                "articles": "articles",
            }
        )
    )
    word = "zorblaxian"
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": "z", "title": "Zorblax", "text": f"The {word} fleet is large."}) + "\n")
    assert Vocabulary.open(home / "vocab").known(content_words(word)) == [False]
    assert main(["add-docs", str(home), str(new)]) == 0
    assert Vocabulary.open(home / "vocab").known(content_words(word)) == [True]
    assert len(SparseIndex.open(home / "articles")) == SPLIT + 1  # TF-IDF: rebuilt, not refused
