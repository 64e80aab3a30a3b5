from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from drqa_ng.errors import IndexFormatError, InputError, NotFoundError
from drqa_ng.store.docstore import DocStore, StoreInfo, units_by_key_sql
from drqa_ng.store.split import split_paragraphs, split_passages
from drqa_ng.types import Document
from tests.fixtures.corpus import LONG_DOC_FACT, LONG_DOC_ID, TINY_FACTS


@pytest.fixture
def store(tiny_docstore: Path):  # type: ignore[no-untyped-def]
    with DocStore.open(tiny_docstore) as s:
        yield s


def test_info_and_counts(store: DocStore, tiny_documents: list[Document]) -> None:
    info = store.info()
    assert isinstance(info, StoreInfo)
    assert info.format_version == DocStore.FORMAT_VERSION
    assert store.count("doc") == info.documents == len(tiny_documents) == 12
    n_par = sum(len(split_paragraphs(d, info.min_paragraph_chars)) for d in tiny_documents)
    n_pas = sum(len(split_passages(d, info.passage_words)) for d in tiny_documents)
    assert store.count("paragraph") == n_par
    assert store.count("passage") == n_pas
    assert len(store.corpus_hash()) == 64 and store.corpus_hash() == info.corpus_hash
    assert info.sources and info.sources[0].endswith("tiny.jsonl")
    with pytest.raises(InputError):
        store.count("sentence")  # type: ignore[arg-type]


def test_get_documents_keeps_order_and_none_for_unknown(
    store: DocStore, tiny_documents: list[Document]
) -> None:
    by_id = {d.id: d for d in tiny_documents}
    got = store.get_documents(["tokyo", "nope", "france", "tokyo", "empty_doc"])
    assert got == [by_id["tokyo"], None, by_id["france"], by_id["tokyo"], None]
    assert store.get_documents([]) == []
    # duplicate id in the corpus: the first one is kept
    doc = store.get_document("france")
    assert doc is not None and doc.title == "France"


def test_batched_get_beyond_sqlite_variable_limit(store: DocStore) -> None:
    ids = [f"missing{i}" for i in range(2500)] + ["athens"]
    got = store.get_documents(ids)
    assert got[:-1] == [None] * 2500 and got[-1] is not None and got[-1].title == "Αθήνα"
    ps = store.get_passages([f"athens#p{i}" for i in range(1200)])
    assert [p is not None for p in ps[:3]] == [True, True, False]


def test_get_passages_any_unit(store: DocStore, tiny_documents: list[Document]) -> None:
    by_id = {d.id: d for d in tiny_documents}
    ids = [
        "france#p1",
        "france",
        "marie_curie#w0",
        "nope#p0",
        "france#p99",
        "france#x1",
        f"{LONG_DOC_ID}#w150",
    ]
    got = store.get_passages(ids)
    assert got[0] is not None and got[0].text.startswith("History.\n\nThe French Revolution")
    assert got[1] is not None and got[1].unit == "doc" and got[1].text == by_id["france"].text
    # the whole short doc is one passage
    assert got[2] is not None and got[2].unit == "passage" and got[2].text == by_id["marie_curie"].text
    assert got[3:6] == [None, None, None]
    long_p = got[6]
    assert long_p is not None and long_p.id == f"{LONG_DOC_ID}#w150"
    for p in got:
        if p is not None:
            assert by_id[p.doc_id].text[p.start : p.end] == p.text
            assert p.title == by_id[p.doc_id].title


def test_facts_are_in_their_paragraphs(store: DocStore) -> None:
    got = store.get_passages([uid for _, _, uid in TINY_FACTS])
    for (_, answer, uid), p in zip(TINY_FACTS, got, strict=True):
        assert p is not None, uid
        assert answer in p.text, (uid, p.text)
    assert got[-1] is not None and got[-1].text == LONG_DOC_FACT


def test_get_units(store: DocStore, tiny_documents: list[Document]) -> None:
    by_id = {d.id: d for d in tiny_documents}
    paras = store.get_units(["athens", "nope", "eiffel_tower"], "paragraph")
    assert [len(x) for x in paras] == [2, 0, 3]
    assert [p.id for p in paras[2]] == ["eiffel_tower#p0", "eiffel_tower#p1", "eiffel_tower#p2"]
    assert paras[2] == split_paragraphs(by_id["eiffel_tower"], store.info().min_paragraph_chars)
    docs = store.get_units(["athens", "nope"], "doc")
    assert docs[0][0].text == by_id["athens"].text and docs[1] == []
    long_ws = store.get_units([LONG_DOC_ID], "passage")[0]
    assert long_ws == split_passages(by_id[LONG_DOC_ID], 100)


def test_iteration_matches_split(store: DocStore, tiny_documents: list[Document]) -> None:
    assert list(store.iter_documents()) == tiny_documents
    assert list(store.doc_ids()) == [d.id for d in tiny_documents]
    min_chars = store.info().min_paragraph_chars
    assert list(store.iter_units("paragraph")) == [
        p for d in tiny_documents for p in split_paragraphs(d, min_chars)
    ]
    assert list(store.iter_units("passage")) == [p for d in tiny_documents for p in split_passages(d, 100)]
    docs = list(store.iter_units("doc"))
    assert [p.id for p in docs] == [d.id for d in tiny_documents] and docs[0].unit == "doc"


def test_find_title_case_insensitive(store: DocStore) -> None:
    for title, did in [
        ("eiffel tower", "eiffel_tower"),
        ("EIFFEL_TOWER", "eiffel_tower"),
        ("ΑΘΉΝΑ", "athens"),
        ("東京", "tokyo"),
        ("  Marie   Curie ", "marie_curie"),
    ]:
        doc = store.find_title(title)
        assert doc is not None and doc.id == did, title
    assert store.find_title("Eiffel") is None
    assert store.find_title("France (duplicate)") is None


def test_threads_share_one_store(store: DocStore, tiny_documents: list[Document]) -> None:
    errors: list[BaseException] = []
    ids = [d.id for d in tiny_documents]

    def work() -> None:
        try:
            for _ in range(20):
                got = store.get_documents(ids)
                assert [d.id for d in got if d is not None] == ids
                assert store.find_title("apollo 11") is not None
        except BaseException as e:  # collected and re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_store_is_read_only(store: DocStore) -> None:
    with pytest.raises(sqlite3.OperationalError):
        store._conn().execute("DELETE FROM documents")


def test_closed_store_refuses_queries(tiny_docstore: Path) -> None:
    s = DocStore.open(tiny_docstore)
    s.close()
    with pytest.raises(InputError):
        s.get_documents(["france"])


def test_open_errors(tmp_path: Path, tiny_docstore: Path) -> None:
    with pytest.raises(NotFoundError):
        DocStore.open(tmp_path / "missing.sqlite")
    with pytest.raises(IndexFormatError):
        DocStore.open(tmp_path)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(IndexFormatError):
        DocStore.open(garbage)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(IndexFormatError, match="not a drqa-ng doc store"):
        DocStore.open(other)
    old = tmp_path / "old.sqlite"
    old.write_bytes(tiny_docstore.read_bytes())
    with sqlite3.connect(old) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'format_version'")
    conn.close()
    with pytest.raises(IndexFormatError, match="format version 0"):
        DocStore.open(old)
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(tiny_docstore.read_bytes()[:4096])
    with pytest.raises(IndexFormatError):
        DocStore.open(truncated)


def test_unit_lookup_uses_primary_key(tiny_docstore: Path) -> None:
    with sqlite3.connect(tiny_docstore) as conn:
        plan = conn.execute("EXPLAIN QUERY PLAN " + units_by_key_sql(2), ("p", 1, 0, "w", 2, 1)).fetchall()
    conn.close()
    details = " | ".join(row[-1] for row in plan)
    assert "SEARCH u USING PRIMARY KEY" in details and "SCAN u" not in details, details


def test_titles_and_title_keys_in_batches(store: DocStore) -> None:
    assert store.get_titles(["eiffel_tower", "nope", "france"]) == ["Eiffel Tower", None, "France"]
    assert store.titled(["eiffel tower", "france", "paris", "eiffel tower"]) == ["france", "eiffel_tower"]
    assert store.titled([]) == []
