"""Build a doc store (``drqa_ng.store.docstore``) from a stream of documents.

Streaming with bounded memory: documents are read, split and inserted in batches inside one
transaction; duplicate ids are found with an indexed lookup per batch rather than an in-memory set,
so memory does not grow with the corpus. The file is written beside ``out`` under a temp name and
renamed into place only after the commit, so a crash or Ctrl-C leaves any previous store intact.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from drqa_ng.errors import DataFormatError, IndexFormatError, InputError, ResourceError
from drqa_ng.index_io import is_disk_full, pid_alive
from drqa_ng.store.docstore import FORMAT_VERSION, POST_LOAD_SCHEMA, SCHEMA, DocStoreMeta, title_key
from drqa_ng.store.split import PARAGRAPH_KIND, PASSAGE_KIND, paragraph_spans, passage_spans
from drqa_ng.types import Document
from indexing.ingest.corpus import CorpusMeter

log = logging.getLogger(__name__)

DEFAULT_PASSAGE_WORDS = 100
# Paragraphs shorter than this (mostly section headings such as "History.") are merged into the next.
DEFAULT_MIN_PARAGRAPH_CHARS = 30
# Per kind of skip, this many are logged one by one; the rest are only counted (a Wikipedia dump
# has tens of thousands of list-only pages that WikiExtractor leaves empty).
MAX_SKIP_WARNINGS = 10
BATCH = 500  # ids per duplicate-check query stay under old SQLite host-parameter limits


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build wrote and skipped."""

    path: str
    documents: int
    paragraphs: int
    passages: int
    duplicates: int
    empty: int
    seconds: float
    corpus_hash: str


def _sidecars(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))]


def _remove_stale_temps(out: Path) -> None:
    """Delete temp files of earlier builds of ``out`` whose process is gone (killed with SIGKILL)."""
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        pid = tmp.name[len(f".{out.name}.tmp-") :].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            log.warning("removing %s left by an interrupted build", tmp)
            tmp.unlink(missing_ok=True)


class _Writer:
    """Batches rows and tracks counts for one build."""

    def __init__(self, conn: sqlite3.Connection, passage_words: int, min_paragraph_chars: int) -> None:
        self.conn = conn
        self.passage_words = passage_words
        self.min_paragraph_chars = min_paragraph_chars
        self.hash = hashlib.sha256()
        self.batch: list[Document] = []
        self.next_rowid = 1
        self.documents = self.paragraphs = self.passages = self.duplicates = self.empty = 0

    def _skip(self, doc: Document, reason: str, count: int) -> None:
        if count <= MAX_SKIP_WARNINGS:
            log.warning("skipping document %r (%s): %s", doc.id, doc.title, reason)
        if count == MAX_SKIP_WARNINGS:
            log.warning("further documents with %s are skipped without a warning (see the counts)", reason)

    def add(self, doc: Document) -> None:
        if not doc.text.strip():
            self.empty += 1
            self._skip(doc, "empty text", self.empty)
            return
        self.batch.append(doc)
        if len(self.batch) >= BATCH:
            self.flush()

    def _existing(self, ids: Sequence[str]) -> set[str]:
        q = f"SELECT id FROM documents WHERE id IN ({','.join('?' * len(ids))})"
        return {r[0] for r in self.conn.execute(q, tuple(ids))}

    def flush(self) -> None:
        if not self.batch:
            return
        seen = self._existing([d.id for d in self.batch])
        doc_rows: list[tuple[int, str, str, str, str]] = []
        unit_rows: list[tuple[str, int, int, int, int]] = []
        for doc in self.batch:
            if doc.id in seen:
                self.duplicates += 1
                self._skip(doc, "duplicate id", self.duplicates)
                continue
            seen.add(doc.id)
            rowid = self.next_rowid
            self.next_rowid += 1
            doc_rows.append((rowid, doc.id, doc.title, title_key(doc.title), doc.text))
            for field in (doc.id, doc.title, doc.text):
                self.hash.update(field.encode("utf-8"))
                self.hash.update(b"\0")
            paras = paragraph_spans(doc.text, self.min_paragraph_chars)
            unit_rows.extend((PARAGRAPH_KIND, rowid, i, a, b) for i, (a, b) in enumerate(paras))
            self.paragraphs += len(paras)
            if self.passage_words > 0:
                windows = passage_spans(doc.text, self.passage_words)
                unit_rows.extend((PASSAGE_KIND, rowid, i, a, b) for i, (a, b) in enumerate(windows))
                self.passages += len(windows)
        self.conn.executemany(
            "INSERT INTO documents (rowid, id, title, title_key, text) VALUES (?,?,?,?,?)", doc_rows
        )
        self.conn.executemany(
            "INSERT INTO units (kind, doc_rowid, ordinal, start_char, end_char) VALUES (?,?,?,?,?)", unit_rows
        )
        self.documents += len(doc_rows)
        self.batch.clear()


def _with_progress(
    documents: Iterable[Document], meter: CorpusMeter | None, w: _Writer, show: bool
) -> Iterator[Document]:
    """``documents`` under a progress bar: input bytes of ``meter.total`` (known once the reader has
    started, hence the bar opens at the first document) with the stored documents as postfix, or a
    plain document count without a meter."""
    if meter is None:
        yield from tqdm(documents, desc="build-docs", unit=" docs", disable=not show, mininterval=1.0)
        return
    it = iter(documents)
    first = next(it, None)
    if first is None:
        return
    with tqdm(
        total=meter.total,
        desc="build-docs",
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not show,
        mininterval=1.0,
    ) as bar:
        yield first
        for i, doc in enumerate(it):
            if meter.done != bar.n or i % 1000 == 0:
                bar.set_postfix_str(
                    f"{w.documents:,} docs, file {meter.files_done}/{meter.files}", refresh=False
                )
                bar.update(meter.done - bar.n)  # redraws at most once a second (mininterval)
            yield doc
        bar.update(meter.total - bar.n)
        bar.set_postfix_str(f"{w.documents:,} docs", refresh=False)


def build_docstore(
    documents: Iterable[Document],
    out: Path,
    *,
    passage_words: int = DEFAULT_PASSAGE_WORDS,
    min_paragraph_chars: int = DEFAULT_MIN_PARAGRAPH_CHARS,
    show_progress: bool = True,
    sources: Sequence[str] = (),
    meter: CorpusMeter | None = None,
) -> BuildReport:
    """Write ``documents`` to a new doc store at ``out`` (replacing any previous one atomically).

    Documents with an empty text or an id seen before are skipped with a warning and counted; a
    corpus with no document left is a ``DataFormatError``, a full disk a ``ResourceError``.
    ``passage_words=0`` stores no word-window passages. ``sources`` is recorded in the store's meta.
    The corpus hash is sha256 over ``id\\0title\\0text\\0`` of each stored document in order.
    ``meter``: the ``CorpusMeter`` given to ``read_corpus``; the progress bar then counts input bytes
    against their total (so it has an ETA) and shows the documents stored.
    """
    if passage_words < 0:
        raise InputError(f"passage_words must be >= 0, got {passage_words}")
    if min_paragraph_chars < 0:
        raise InputError(f"min_paragraph_chars must be >= 0, got {min_paragraph_chars}")
    out = Path(out)
    if out.exists() and not out.is_file():
        raise InputError(f"output {out} exists and is not a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{int(time.time() * 1000)}")
    t0 = time.perf_counter()
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        # Bulk-load settings: no rollback journal or fsync while loading (a failed build is
        # deleted anyway); 256 MiB page cache bounds memory while keeping B-tree inserts fast.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        w = _Writer(conn, passage_words, min_paragraph_chars)
        for doc in _with_progress(documents, meter, w, show_progress and sys.stderr.isatty()):
            w.add(doc)
        w.flush()
        if w.documents == 0:
            where = ", ".join(str(x) for x in sources) or "the input"
            raise DataFormatError(
                f"no documents to store: {where} holds none with text "
                f"({w.empty} empty, {w.duplicates} duplicates skipped); refusing to build an empty doc store"
            )
        conn.execute(POST_LOAD_SCHEMA)
        DocStoreMeta(
            corpus_hash=w.hash.hexdigest(),
            documents=w.documents,
            paragraphs=w.paragraphs,
            passages=w.passages,
            passage_words=passage_words,
            min_paragraph_chars=min_paragraph_chars,
            sources=tuple(str(s) for s in sources),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            duplicates=w.duplicates,
            empty=w.empty,
        ).save(conn)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        # WAL mode is recorded in the file header; closing the only connection checkpoints and deletes
        # the -wal/-shm files, so the renamed store is one self-contained file.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.close()
        leftovers = [p for p in _sidecars(tmp)[1:] if p.exists()]
        if leftovers:
            raise RuntimeError(f"SQLite left {leftovers} after closing the build connection")
        os.replace(tmp, out)
    except BaseException as e:
        conn.close()
        for p in _sidecars(tmp):
            p.unlink(missing_ok=True)
        if is_disk_full(e):
            raise ResourceError(
                f"disk full while writing the doc store {out}: {e}; free space and rerun"
            ) from e
        raise
    seconds = time.perf_counter() - t0
    report = BuildReport(
        path=str(out),
        documents=w.documents,
        paragraphs=w.paragraphs,
        passages=w.passages,
        duplicates=w.duplicates,
        empty=w.empty,
        seconds=seconds,
        corpus_hash=w.hash.hexdigest(),
    )
    log.info("built doc store %s: %s", out, report)
    return report


def append_docstore(
    documents: Iterable[Document], store: Path, *, show_progress: bool = False
) -> BuildReport:
    """Append ``documents`` to the doc store ``store`` as if they had come last in its build.

    The store is copied to a temp file, the new documents are split and inserted after the last
    rowid with the store's own passage/paragraph settings (ids already present are skipped as
    duplicates), the counts and corpus hash are recomputed, and the file is renamed into place:
    readers keep the old inode, and a crash leaves the old store. The result equals
    ``build_docstore`` of the old documents followed by the new ones (same rows, units and hash).
    The report counts the documents, paragraphs and passages added.
    """
    store = Path(store)
    if not store.is_file():
        raise InputError(f"doc store not found: {store}")
    _remove_stale_temps(store)
    tmp = store.with_name(f".{store.name}.tmp-{os.getpid()}-{int(time.time() * 1000)}")
    t0 = time.perf_counter()
    shutil.copyfile(store, tmp)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        try:
            meta = DocStoreMeta.load(conn, store)
        except IndexFormatError as e:
            raise InputError(f"{store} is not a drqa-ng doc store of format {FORMAT_VERSION}") from e
        w = _Writer(conn, meta.passage_words, meta.min_paragraph_chars)
        w.next_rowid = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM documents").fetchone()[0]) + 1
        w.duplicates, w.empty = meta.duplicates, meta.empty
        dup0, empty0 = w.duplicates, w.empty
        conn.execute("BEGIN")
        for doc in tqdm(documents, desc="add-docs", unit=" docs", disable=not show_progress, mininterval=1.0):
            w.add(doc)
        w.flush()
        digest = hashlib.sha256()  # the corpus hash covers every document in order: recompute it
        for fields in conn.execute("SELECT id, title, text FROM documents ORDER BY rowid"):
            for field in fields:
                digest.update(field.encode("utf-8"))
                digest.update(b"\0")
        replace(
            meta,
            documents=meta.documents + w.documents,
            paragraphs=meta.paragraphs + w.paragraphs,
            passages=meta.passages + w.passages,
            corpus_hash=digest.hexdigest(),
            duplicates=w.duplicates,
            empty=w.empty,
        ).save(conn)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.close()
        os.replace(tmp, store)
    except BaseException:
        conn.close()
        for p in _sidecars(tmp):
            p.unlink(missing_ok=True)
        raise
    report = BuildReport(
        path=str(store),
        documents=w.documents,
        paragraphs=w.paragraphs,
        passages=w.passages,
        duplicates=w.duplicates - dup0,
        empty=w.empty - empty0,
        seconds=time.perf_counter() - t0,
        corpus_hash=digest.hexdigest(),
    )
    log.info("appended to doc store %s: %s", store, report)
    return report
