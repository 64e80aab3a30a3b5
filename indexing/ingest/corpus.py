"""``read_corpus``: stream Documents from files and folders in any supported format.

Formats (``fmt``): ``jsonl`` (also WikiExtractor ``--json``), ``wikiextractor`` (text or json
flavour, chosen per file), ``mediawiki`` (XML dump), ``squad`` (SQuAD JSON), or ``auto`` to sniff
each file's first bytes (after gzip/bzip2 decompression, detected by magic number). Folders are
walked recursively in sorted order, hidden files skipped.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.types import UNIT_SEP, Document
from indexing.ingest.jsonl import read_jsonl
from indexing.ingest.text import head, source_name
from indexing.ingest.wikiextractor import read_wikiextractor

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "wikiextractor", "mediawiki", "squad")
_SQUAD_HEAD = re.compile(r'^\{\s*"(data|version)"\s*:')


def _read_mediawiki(path: Path) -> Iterator[Document]:
    from indexing.ingest.mediawiki import read_mediawiki  # mwxml/mwparserfromhell only when needed

    return read_mediawiki(path)


def _read_squad(path: Path) -> Iterator[Document]:
    from indexing.ingest.squad import read_squad

    return read_squad(path)


def _read_wikiextractor_any(path: Path) -> Iterator[Document]:
    if head(path, 4096).lstrip().startswith("{"):
        return read_jsonl(path, wikiextractor=True)
    return read_wikiextractor(path)


_READERS: dict[str, Callable[[Path], Iterator[Document]]] = {
    "jsonl": read_jsonl,
    "wikiextractor": _read_wikiextractor_any,
    "mediawiki": _read_mediawiki,
    "squad": _read_squad,
}


def detect_format(path: Path) -> str | None:
    """The format of one file from its first bytes; None for an empty file.

    Raises DataFormatError (naming the supported formats) when nothing matches.
    """
    text = head(path).lstrip()
    if not text:
        return None
    if text.startswith("<doc"):
        return "wikiextractor"
    if text.startswith("<mediawiki") or (text.startswith("<?xml") and "<mediawiki" in text[:4096]):
        return "mediawiki"
    if text.startswith("{"):
        if _SQUAD_HEAD.match(text):
            return "squad"
        first = text.split("\n", 1)[0]
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            obj = None
        except RecursionError:
            raise DataFormatError(f"{path}:1: JSON nested too deeply to be a document") from None
        if isinstance(obj, dict) and "text" in obj:
            return "wikiextractor" if "url" in obj else "jsonl"
        if '"data"' in text and '"paragraphs"' in text:
            return "squad"
    raise DataFormatError(
        f"{path}: unknown corpus format (supported: {', '.join(FORMATS)}: JSON lines with id/title/text, "
        "WikiExtractor <doc> or --json output, MediaWiki XML dump, SQuAD JSON; plain, .gz or .bz2)"
    )


def check_sources(paths: Sequence[Path]) -> None:
    """NotFoundError naming the first corpus path that does not exist (a cheap check: run it before
    anything slow, so a typo fails at once)."""
    for src in paths:
        if not Path(src).exists():
            raise NotFoundError(f"corpus path not found: {src}")


def iter_files(path: Path) -> Iterator[Path]:
    """``path`` itself, or every non-hidden file below the folder ``path`` in sorted order."""
    if not path.exists():
        raise NotFoundError(f"corpus path not found: {path}")
    if path.is_file():
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def read_file(path: Path, fmt: str = "auto") -> Iterator[Document]:
    """Documents of one file in format ``fmt`` (or sniffed with ``auto``)."""
    if fmt not in (*FORMATS, "auto"):
        raise DataFormatError(f"unknown corpus format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    chosen = detect_format(path) if fmt == "auto" else fmt
    if chosen is None:
        log.warning("skipping empty file %s", path)
        return iter(())
    log.info("reading %s as %s", path, chosen)
    return _READERS[chosen](path)


BadFileHandler = Callable[[Path, DataFormatError], None]


@dataclass
class CorpusMeter:
    """How far ``read_corpus`` is through its input, for a progress bar with a total and an ETA:
    ``total`` bytes of all input files (on disk, compressed or not), ``done`` bytes of the files
    finished so far (a file counts once the reader has moved past it)."""

    total: int = 0
    done: int = 0
    files: int = 0
    files_done: int = 0


def read_corpus(
    paths: Sequence[Path],
    fmt: str = "auto",
    *,
    id_prefix: bool = False,
    on_bad_file: BadFileHandler | None = None,
    meter: CorpusMeter | None = None,
) -> Iterator[Document]:
    """Stream the documents of every file under ``paths`` (files or folders), in order.

    A file that cannot be read (truncated or corrupt compression, not UTF-8, malformed records)
    raises ``DataFormatError`` naming the file and position, unless ``on_bad_file`` is given: then
    it is called with the file and the error and the walk goes on with the next file (documents
    read from the bad file before the damage are kept).

    ``id_prefix=True`` namespaces ids by source as ``"{source}:{id}"`` (source = folder name or file
    stem), for building one store from corpora whose ids overlap (e.g. two Wikipedia dumps both
    numbering pages from 1); SQuAD ids are already namespaced and are left as they are.
    Ids may not contain ``#`` (it separates a doc id from a unit suffix): DataFormatError.
    ``meter`` (when given) is filled with the input's size first and advanced file by file.
    """
    if fmt not in (*FORMATS, "auto"):
        raise DataFormatError(f"unknown corpus format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    check_sources(paths)
    if meter is not None:
        sizes = [f.stat().st_size for src in paths for f in iter_files(Path(src))]
        meter.total, meter.files = sum(sizes), len(sizes)
    for src in paths:
        src = Path(src)
        prefix = f"{source_name(src)}:" if id_prefix else ""
        for file in iter_files(src):
            try:
                for doc in read_file(file, fmt):
                    if UNIT_SEP in doc.id:
                        raise DataFormatError(f"{file}: document id {doc.id!r} contains {UNIT_SEP!r}")
                    if prefix and not doc.id.startswith("squad:"):
                        doc = Document(prefix + doc.id, doc.title, doc.text)
                    yield doc
            except DataFormatError as e:
                if on_bad_file is None:
                    raise
                on_bad_file(file, e)
            if meter is not None:
                meter.done += file.stat().st_size
                meter.files_done += 1
