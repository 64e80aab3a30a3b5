"""DocStoreMeta owns the doc store's meta table: the rows it writes are the rows a build has always stored."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from drqa_ng.errors import IndexFormatError
from drqa_ng.store.docstore import DocStore
from drqa_ng.store.meta import DocStoreMeta


def _meta_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
    conn.close()
    return rows


def test_docstore_meta_owns_the_meta_table(tiny_docstore: Path, tmp_path: Path) -> None:
    conn = sqlite3.connect(tiny_docstore.resolve().as_uri() + "?mode=ro", uri=True)
    meta = DocStoreMeta.load(conn, tiny_docstore)
    conn.close()
    assert meta.rows() == _meta_rows(tiny_docstore)  # every stored row, same text
    assert DocStore.open(tiny_docstore).info().documents == meta.documents
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(tiny_docstore.read_bytes())
    changed = replace(meta, documents=meta.documents + 1, sources=("a", "b"))
    with sqlite3.connect(copy) as conn:
        changed.save(conn)  # updates in place, no duplicate keys
        assert DocStoreMeta.load(conn, copy) == changed
    conn.close()
    assert len(_meta_rows(copy)) == len(meta.rows())


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("UPDATE meta SET value = 'sparse' WHERE key = 'kind'", "not a drqa-ng doc store"),
        ("UPDATE meta SET value = '2' WHERE key = 'format_version'", "format version 2"),
        ("DELETE FROM meta WHERE key = 'passages'", "incomplete meta table"),
        ("UPDATE meta SET value = 'many' WHERE key = 'documents'", "incomplete meta table"),
    ],
)
def test_docstore_meta_refuses_bad_rows(tiny_docstore: Path, tmp_path: Path, sql: str, match: str) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(tiny_docstore.read_bytes())
    with sqlite3.connect(bad) as conn:
        conn.execute(sql)
        with pytest.raises(IndexFormatError, match=match):
            DocStoreMeta.load(conn, bad)
    conn.close()
    with pytest.raises(IndexFormatError, match=match):
        DocStore.open(bad)
