"""WikiExtractor's default text output: ``<doc id=".." url=".." title="..">`` blocks, one paragraph a line.

The first line of a block repeats the title and is dropped. Files may be plain or bzip2-compressed
(``WikiExtractor.py --compress``); the ``--json`` flavour is read by ``indexing.ingest.jsonl``.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from drqa_ng.errors import DataFormatError
from drqa_ng.inputs import text_lines
from drqa_ng.types import Document
from indexing.ingest.text import lines_to_text

log = logging.getLogger(__name__)

# Namespace prefixes of non-article pages (English names + common aliases); some WikiExtractor trees,
# like the shared simplewiki one, still contain "Wikipedia:", "MediaWiki:", "Help:" ... pages.
NON_ARTICLE_NAMESPACES = frozenset(
    {
        "talk", "user", "user talk", "wikipedia", "wikipedia talk", "wp", "project", "file", "file talk",
        "image", "media", "mediawiki", "mediawiki talk", "template", "template talk", "help", "help talk",
        "category", "category talk", "portal", "portal talk", "book", "book talk", "draft", "draft talk",
        "timedtext", "timedtext talk", "module", "module talk", "special", "education program",
        "gadget", "gadget definition", "topic",
    }
)  # fmt: skip
_ID = re.compile(r'\bid="([^"]*)"')
# Titles may themselves contain quotes, so take everything up to the final '">'.
_TITLE = re.compile(r'\btitle="(.*)"\s*>\s*$')


def is_article_title(title: str) -> bool:
    """False for titles in a non-article namespace ("Help:Contents"); "Star Wars: Episode IV" is an article."""
    prefix, sep, _ = title.partition(":")
    return not sep or " ".join(prefix.split()).casefold() not in NON_ARTICLE_NAMESPACES


def _document(did: str, title: str, lines: list[str]) -> Document:
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].strip() == title:
        lines.pop(0)
    return Document(did, title, lines_to_text(lines))


def read_wikiextractor(path: Path) -> Iterator[Document]:
    """Stream the article documents of one WikiExtractor output file (non-article namespaces skipped)."""
    current: tuple[str, str, int] | None = None  # (id, title, line of <doc>)
    lines: list[str] = []
    lineno = 0
    for lineno, raw in text_lines(path):
        line = raw.rstrip("\n")
        if line.startswith("<doc ") or line == "<doc>":
            if current is not None:
                raise DataFormatError(
                    f"{path}:{lineno}: <doc> inside the document opened on line {current[2]} (missing </doc>)"
                )
            m_id, m_title = _ID.search(line), _TITLE.search(line)
            if m_id is None or m_title is None or not m_id.group(1):
                raise DataFormatError(f"{path}:{lineno}: <doc> header without id/title: {line[:120]!r}")
            title = html.unescape(m_title.group(1)).strip() or m_id.group(1)
            current = (m_id.group(1), title, lineno)
            lines = []
        elif line.strip() == "</doc>":
            if current is None:
                raise DataFormatError(f"{path}:{lineno}: </doc> without an opening <doc>")
            if is_article_title(current[1]):
                yield _document(current[0], current[1], lines)
            else:
                log.debug("skipping non-article page %r", current[1])
            current = None
        elif current is not None:
            lines.append(line)
        elif line.strip():
            raise DataFormatError(f"{path}:{lineno}: text outside a <doc> block: {line[:80]!r}")
    if current is not None:
        raise DataFormatError(f"{path}:{lineno}: file ends inside the document opened on line {current[2]}")
