"""JSON-lines corpora: ``{"id", "title", "text"}`` (DrQA's ``{"id", "text"}`` too: title = id).

WikiExtractor's ``--json`` output (``{"id", "url", "title", "text"}``, one paragraph a line) is read
here as well, with ``wikiextractor=True``: its lines become paragraphs and a leading title line is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from drqa_ng.errors import DataFormatError
from drqa_ng.inputs import text_lines
from drqa_ng.types import Document
from indexing.ingest.text import check_encodable, lines_to_text, normalize_text
from indexing.ingest.wikiextractor import is_article_title


def parse_record(obj: object, where: str, *, wikiextractor: bool) -> Document:
    """One JSON object -> Document; DataFormatError naming ``where`` (file:line) when malformed."""
    if not isinstance(obj, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    did, text = obj.get("id"), obj.get("text")
    if isinstance(did, int) and not isinstance(did, bool):
        did = str(did)
    if not isinstance(did, str) or not did:
        raise DataFormatError(f'{where}: missing or non-string "id"')
    if not isinstance(text, str):
        raise DataFormatError(f'{where}: missing or non-string "text" (document {did!r})')
    title = obj.get("title", did)
    if not isinstance(title, str):
        raise DataFormatError(f'{where}: non-string "title" (document {did!r})')
    title = title.strip() or did
    check_encodable(did, where, '"id"')
    check_encodable(title, where, '"title"')
    check_encodable(text, where, f'"text" (document {did!r})')
    if wikiextractor:
        lines = text.split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines and lines[0].strip() == title:
            lines.pop(0)
        return Document(did, title, lines_to_text(lines))
    return Document(did, title, normalize_text(text))


def read_jsonl(path: Path, *, wikiextractor: bool = False) -> Iterator[Document]:
    """Stream documents from a JSON-lines file (plain, .gz or .bz2); blank lines are skipped."""
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(f"{where}: invalid JSON ({e.msg})") from e
        except RecursionError:  # the decoder recurses once per nesting level
            raise DataFormatError(f"{where}: JSON nested too deeply to be a document") from None
        is_wx = wikiextractor or (isinstance(obj, dict) and "url" in obj)
        doc = parse_record(obj, where, wikiextractor=is_wx)
        if is_wx and not is_article_title(doc.title):
            continue
        yield doc
