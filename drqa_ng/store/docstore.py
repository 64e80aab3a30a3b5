"""Read-only SQLite doc store: documents plus the offsets of their paragraphs and passages.

One ``.sqlite`` file written by ``indexing.docstore.build_docstore``:

- ``documents(rowid, id UNIQUE, title, title_key, text)`` in insertion order; ``title_key`` is the
  case-folded title, indexed, for ``find_title``.
- ``units(kind, doc_rowid, ordinal, start_char, end_char)``, kind ``"p"`` (paragraph) or ``"w"``
  (word-window passage). Only offsets are stored; a unit's text is ``doc.text[start:end]`` (the
  whole-doc unit is implicit). Primary key ``(kind, doc_rowid, ordinal)`` makes "all paragraphs in
  corpus order" and "passage w3 of doc X" index lookups.
- ``meta(key, value)`` (``DocStoreMeta`` in ``drqa_ng.store.meta``): kind, format_version, corpus_hash, counts, sources, build
  parameters.

The file is in WAL mode and is written once (temp file + rename), never modified afterwards, so
readers open it with ``mode=ro&immutable=1``: no locks and no ``-wal``/``-shm`` side files, which a
plain read-only WAL connection would create and leave behind (and could not create at all in a
read-only folder). A rebuild renames a new file into place; open readers keep the old inode.

Thread safety: one SQLite connection per thread (created lazily, all closed by ``close``), so
FastAPI worker threads can share one ``DocStore``. Iterators use a connection of their own.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from drqa_ng.errors import IndexFormatError, InputError, NotFoundError
from drqa_ng.store.meta import FORMAT_VERSION, KIND, DocStoreMeta, StoreInfo
from drqa_ng.store.split import KIND_OF_UNIT, UNIT_OF_KIND, doc_unit, parse_unit_id, unit_id
from drqa_ng.types import UNITS, Document, Passage, Unit

log = logging.getLogger(__name__)

# Ids per "IN (...)" query; SQLite builds before 3.32 allow only 999 host parameters.
CHUNK = 900
T = TypeVar("T")
UnitKey = tuple[int, int]
"""A unit's position key: (document rowid, unit ordinal in the document)."""

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    title_key TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE units (
    kind TEXT NOT NULL,
    doc_rowid INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    PRIMARY KEY (kind, doc_rowid, ordinal)
) WITHOUT ROWID;
"""
# Created after the bulk load: building an index once is faster than maintaining it per insert.
POST_LOAD_SCHEMA = "CREATE INDEX documents_title_key ON documents (title_key);"


def title_key(title: str) -> str:
    """Lookup key for titles: underscores as spaces, whitespace collapsed, Unicode case-folded."""
    return " ".join(title.replace("_", " ").split()).casefold()


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def units_by_key_sql(n: int) -> str:
    """Offsets of ``n`` units given as (kind, doc_rowid, ordinal) parameter triples.

    CROSS JOIN fixes the loop order (wanted keys outside, primary-key search inside);
    ``(kind, doc_rowid, ordinal) IN (VALUES ...)`` would make SQLite scan the whole units table.
    """
    values = ",".join(["(?,?,?)"] * n)
    return (
        "SELECT u.kind, u.doc_rowid, u.ordinal, u.start_char, u.end_char "
        f"FROM (VALUES {values}) AS w CROSS JOIN units AS u "
        "ON u.kind = w.column1 AND u.doc_rowid = w.column2 AND u.ordinal = w.column3"
    )


def _check_unit(unit: str) -> Unit:
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    return unit


class DocStore:
    """Batched, thread-safe read access to a doc store file. Open with ``DocStore.open(path)``."""

    FORMAT_VERSION: int = FORMAT_VERSION

    def __init__(self, path: Path, info: StoreInfo) -> None:
        self._path = path
        self._info = info
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._closed = False

    # -- opening -----------------------------------------------------------------------------
    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        return conn

    @classmethod
    def open(cls, path: str | Path) -> DocStore:
        """Open a doc store read-only; NotFoundError if missing, IndexFormatError if not a valid store."""
        path = Path(path)
        if not path.exists():
            raise NotFoundError(f"doc store not found: {path}")
        if not path.is_file():
            raise IndexFormatError(f"{path} is not a doc store file")
        try:
            conn = cls._connect(path)
        except sqlite3.Error as e:
            raise IndexFormatError(f"cannot open doc store {path}: {e}") from e
        try:
            meta = DocStoreMeta.load(conn, path)
        finally:
            conn.close()
        info = StoreInfo(
            path=str(path),
            format_version=FORMAT_VERSION,
            corpus_hash=meta.corpus_hash,
            documents=meta.documents,
            paragraphs=meta.paragraphs,
            passages=meta.passages,
            passage_words=meta.passage_words,
            min_paragraph_chars=meta.min_paragraph_chars,
            sources=meta.sources,
            created=meta.created,
        )
        log.info("opened doc store %s: %d docs", path, info.documents)
        return cls(path, info)

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise InputError(f"doc store {self._path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(self._path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        self._closed = True
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def __enter__(self) -> DocStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- metadata ----------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    def info(self) -> StoreInfo:
        return self._info

    def corpus_hash(self) -> str:
        """sha256 over (id, title, text) of every document in insertion order (see the builder)."""
        return self._info.corpus_hash

    def count(self, unit: Unit) -> int:
        """How many units of this kind the store holds."""
        return self._info.count(_check_unit(unit))

    # -- batched lookups ---------------------------------------------------------------------
    def _fetch_docs(self, ids: Sequence[str]) -> dict[str, tuple[int, str, str]]:
        """id -> (rowid, title, text) for the ids that exist."""
        uniq = list(dict.fromkeys(ids))
        found: dict[str, tuple[int, str, str]] = {}
        conn = self._conn()
        for chunk in _chunks(uniq):
            rows = conn.execute(
                f"SELECT id, rowid, title, text FROM documents WHERE id IN ({_placeholders(len(chunk))})",
                tuple(chunk),
            )
            for did, rowid, title, text in rows:
                found[did] = (rowid, title, text)
        return found

    def get_documents(self, ids: Sequence[str]) -> list[Document | None]:
        """Documents for ``ids`` in the same order; None for unknown ids."""
        found = self._fetch_docs(ids)
        out: list[Document | None] = []
        for did in ids:
            row = found.get(did)
            out.append(None if row is None else Document(did, row[1], row[2]))
        return out

    def get_titles(self, ids: Sequence[str]) -> list[str | None]:
        """Titles for document ``ids`` in the same order (None for unknown ids); reads no text."""
        uniq = list(dict.fromkeys(ids))
        found: dict[str, str] = {}
        conn = self._conn()
        for chunk in _chunks(uniq):
            rows = conn.execute(
                f"SELECT id, title FROM documents WHERE id IN ({_placeholders(len(chunk))})", tuple(chunk)
            )
            found.update((str(did), str(title)) for did, title in rows)
        return [found.get(did) for did in ids]

    def titled(self, keys: Sequence[str]) -> list[str]:
        """Ids of the documents whose ``title_key`` is one of ``keys`` (distinct, in store order)."""
        uniq = list(dict.fromkeys(keys))
        rowids: dict[int, str] = {}
        conn = self._conn()
        for chunk in _chunks(uniq):
            rows = conn.execute(
                f"SELECT rowid, id FROM documents WHERE title_key IN ({_placeholders(len(chunk))})",
                tuple(chunk),
            )
            rowids.update((int(r), str(did)) for r, did in rows)
        return [rowids[r] for r in sorted(rowids)]

    def get_document(self, doc_id: str) -> Document | None:
        """Single-id convenience wrapper over ``get_documents``."""
        return self.get_documents([doc_id])[0]

    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]:
        """Units for any mix of unit ids (doc id, ``id#p3``, ``id#w7``), order kept; None for unknown."""
        parsed = [parse_unit_id(uid) for uid in ids]
        docs = self._fetch_docs([p[0] for p in parsed if p is not None])
        wanted = list(
            dict.fromkeys(
                (KIND_OF_UNIT[unit], docs[did][0], ordinal)
                for did, unit, ordinal in (p for p in parsed if p is not None)
                if unit != "doc" and did in docs
            )
        )
        offsets: dict[tuple[str, int, int], tuple[int, int]] = {}
        conn = self._conn()
        step = CHUNK // 3
        for i in range(0, len(wanted), step):
            chunk = wanted[i : i + step]
            rows = conn.execute(units_by_key_sql(len(chunk)), tuple(v for key in chunk for v in key))
            for kind, rowid, ordinal, a, b in rows:
                offsets[(kind, rowid, ordinal)] = (a, b)
        out: list[Passage | None] = []
        for uid, p in zip(ids, parsed, strict=True):
            if p is None or p[0] not in docs:
                out.append(None)
                continue
            did, unit, ordinal = p
            rowid, title, text = docs[did]
            if unit == "doc":
                out.append(doc_unit(Document(did, title, text)))
                continue
            ab = offsets.get((KIND_OF_UNIT[unit], rowid, ordinal))
            out.append(
                None if ab is None else Passage(uid, did, title, text[ab[0] : ab[1]], ab[0], ab[1], unit)
            )
        return out

    def get_units(self, doc_ids: Sequence[str], unit: Unit) -> list[list[Passage]]:
        """All units of kind ``unit`` of each document, in order; an empty list for unknown ids."""
        unit = _check_unit(unit)
        docs = self._fetch_docs(doc_ids)
        if unit == "doc":
            return [
                [doc_unit(Document(did, docs[did][1], docs[did][2]))] if did in docs else []
                for did in doc_ids
            ]
        kind = KIND_OF_UNIT[unit]
        by_rowid: dict[int, list[tuple[int, int, int]]] = {}
        rowids = [r[0] for r in docs.values()]
        conn = self._conn()
        for chunk in _chunks(rowids):
            rows = conn.execute(
                "SELECT doc_rowid, ordinal, start_char, end_char FROM units "
                f"WHERE kind = ? AND doc_rowid IN ({_placeholders(len(chunk))}) ORDER BY doc_rowid, ordinal",
                (kind, *chunk),
            )
            for rowid, ordinal, a, b in rows:
                by_rowid.setdefault(rowid, []).append((ordinal, a, b))
        out: list[list[Passage]] = []
        for did in doc_ids:
            if did not in docs:
                out.append([])
                continue
            rowid, title, text = docs[did]
            out.append(
                [
                    Passage(unit_id(did, unit, o), did, title, text[a:b], a, b, unit)
                    for o, a, b in by_rowid.get(rowid, [])
                ]
            )
        return out

    def find_title(self, title: str) -> Document | None:
        """The first-inserted document whose title matches case-insensitively (``_`` == space)."""
        row = (
            self._conn()
            .execute(
                "SELECT id, title, text FROM documents WHERE title_key = ? ORDER BY rowid LIMIT 1",
                (title_key(title),),
            )
            .fetchone()
        )
        return None if row is None else Document(row[0], row[1], row[2])

    # -- streaming ---------------------------------------------------------------------------
    def _iter_rows(self, sql: str, params: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
        conn = self._connect(self._path)
        try:
            yield from conn.execute(sql, params)
        finally:
            conn.close()

    def doc_ids(self) -> Iterator[str]:
        """Every document id in insertion order."""
        for (did,) in self._iter_rows("SELECT id FROM documents ORDER BY rowid"):
            yield str(did)

    def iter_documents(self) -> Iterator[Document]:
        """Every document in insertion order (streamed)."""
        for did, title, text in self._iter_rows("SELECT id, title, text FROM documents ORDER BY rowid"):
            yield Document(str(did), str(title), str(text))

    def iter_units(self, unit: Unit) -> Iterator[Passage]:
        """Every unit of kind ``unit`` in corpus order ("doc": one Passage per document)."""
        return self.iter_unit_range(unit)

    def unit_keys(self, unit: Unit, every: int) -> list[UnitKey]:
        """Keys of the units at corpus positions 0, ``every``, ``2 * every``, ... (shard boundaries).

        A key is ``(doc_rowid, ordinal)`` (``ordinal`` 0 for the doc unit); ``iter_unit_range``
        between two consecutive keys yields exactly ``every`` units.
        """
        unit = _check_unit(unit)
        if every < 1:
            raise InputError(f"every must be >= 1, got {every}")
        if unit == "doc":
            rows = self._iter_rows("SELECT rowid, 0 FROM documents ORDER BY rowid")
        else:
            rows = self._iter_rows(
                "SELECT doc_rowid, ordinal FROM units WHERE kind = ? ORDER BY doc_rowid, ordinal",
                (KIND_OF_UNIT[unit],),
            )
        return [(int(r[0]), int(r[1])) for i, r in enumerate(rows) if i % every == 0]  # type: ignore[call-overload]

    def iter_unit_range(
        self, unit: Unit, start: UnitKey | None = None, stop: UnitKey | None = None
    ) -> Iterator[Passage]:
        """Units of kind ``unit`` in corpus order whose key is in ``[start, stop)`` (None: open end)."""
        unit = _check_unit(unit)
        lo = start or (-(2**62), -1)
        hi = stop or (2**62, 0)
        if unit == "doc":
            for did, title, text in self._iter_rows(
                "SELECT id, title, text FROM documents WHERE rowid >= ? AND rowid < ? ORDER BY rowid",
                (lo[0], hi[0]),
            ):
                yield doc_unit(Document(str(did), str(title), str(text)))
            return
        conn = self._connect(self._path)
        try:
            # Merge join in Python: both cursors walk rowid order, so each doc text is read once
            # and sliced here (SQLite's substr would rescan a long text from its start per unit).
            docs = conn.execute(
                "SELECT rowid, id, title, text FROM documents WHERE rowid >= ? AND rowid <= ? ORDER BY rowid",
                (lo[0], hi[0]),
            )
            units = conn.execute(
                "SELECT doc_rowid, ordinal, start_char, end_char FROM units WHERE kind = ? "
                "AND (doc_rowid, ordinal) >= (?, ?) AND (doc_rowid, ordinal) < (?, ?) "
                "ORDER BY doc_rowid, ordinal",
                (KIND_OF_UNIT[unit], lo[0], lo[1], hi[0], hi[1]),
            )
            rowid, did, title, text = -1, "", "", ""
            for doc_rowid, ordinal, a, b in units:
                while rowid != doc_rowid:
                    row = docs.fetchone()
                    if row is None:
                        raise IndexFormatError(f"{self._path}: unit of unknown document rowid {doc_rowid}")
                    rowid, did, title, text = row
                yield Passage(unit_id(did, unit, ordinal), did, title, text[a:b], a, b, unit)
        finally:
            conn.close()


__all__ = [
    "FORMAT_VERSION",
    "KIND",
    "UNIT_OF_KIND",
    "DocStore",
    "DocStoreMeta",
    "StoreInfo",
    "UnitKey",
    "title_key",
]
