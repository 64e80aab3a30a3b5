"""Split a document into retrievable units: the whole doc, paragraphs, ~100-word passages.

Every unit is a ``Passage`` whose ``start``/``end`` are character offsets into ``Document.text``,
so ``doc.text[p.start:p.end] == p.text`` always holds (the doc store keeps only the offsets).

Unit ids: the doc unit is the doc id; paragraph ``i`` is ``f"{doc_id}#p{i}"``; passage ``i`` is
``f"{doc_id}#w{i}"`` (see ``drqa_ng.types``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from drqa_ng.types import UNIT_SEP, Document, Passage, Unit

PARAGRAPH_KIND = "p"
PASSAGE_KIND = "w"
KIND_OF_UNIT: dict[Unit, str] = {"paragraph": PARAGRAPH_KIND, "passage": PASSAGE_KIND}
UNIT_OF_KIND: dict[str, Unit] = {PARAGRAPH_KIND: "paragraph", PASSAGE_KIND: "passage"}

_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
# A unit suffix: its kind letter and an ASCII ordinal of at most 9 digits (str.isdigit() would accept
# "²", and an unbounded ordinal overflows SQLite's integers or Python's int-parsing digit limit).
_UNIT_SUFFIX = re.compile(r"([pw])([0-9]{1,9})", re.ASCII)
_WORD = re.compile(r"\S+")


def unit_id(doc_id: str, unit: Unit, ordinal: int) -> str:
    """The id of unit ``ordinal`` of ``doc_id`` (the doc id itself for the "doc" unit)."""
    if unit == "doc":
        return doc_id
    return f"{doc_id}{UNIT_SEP}{KIND_OF_UNIT[unit]}{ordinal}"


def parse_unit_id(uid: str) -> tuple[str, Unit, int] | None:
    """``(doc_id, unit, ordinal)`` for a unit id; None when the suffix is not ``p<n>``/``w<n>`` with
    ``n`` 1 to 9 ASCII digits (so every id that parses names an ordinal SQLite can look up)."""
    head, sep, tail = uid.rpartition(UNIT_SEP)
    if not sep:
        return uid, "doc", 0
    m = _UNIT_SUFFIX.fullmatch(tail)
    if m is None:
        return None
    return head, UNIT_OF_KIND[m.group(1)], int(m.group(2))


def doc_unit(doc: Document) -> Passage:
    """The whole document as one unit."""
    return Passage(doc.id, doc.id, doc.title, doc.text, 0, len(doc.text), "doc")


def _paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each non-blank block between blank lines, surrounding whitespace trimmed."""
    pos = 0
    for m in [*_BLANK_LINES.finditer(text), None]:
        stop = m.start() if m is not None else len(text)
        block = text[pos:stop]
        stripped = block.strip()
        if stripped:
            a = pos + (len(block) - len(block.lstrip()))
            yield a, a + len(stripped)
        if m is not None:
            pos = m.end()


def paragraph_spans(text: str, min_chars: int = 0) -> list[tuple[int, int]]:
    """Paragraph offsets: blocks split on blank lines, empty ones skipped.

    A paragraph shorter than ``min_chars`` (typically a section heading) is merged into the next one;
    a short last paragraph is merged into the previous one. Merged spans cover the text between
    them, so offsets stay exact.
    """
    spans = list(_paragraph_spans(text))
    if min_chars <= 0 or len(spans) < 2:
        return spans
    out: list[tuple[int, int]] = []
    pending: int | None = None  # start of short paragraphs waiting to be merged into the next one
    for a, b in spans:
        start = a if pending is None else pending
        if b - start < min_chars:
            pending = start
            continue
        out.append((start, b))
        pending = None
    if pending is not None:
        if out:
            out[-1] = (out[-1][0], spans[-1][1])
        else:
            out.append((pending, spans[-1][1]))
    return out


def passage_spans(text: str, words: int = 100) -> list[tuple[int, int]]:
    """DPR-style passages: consecutive, non-overlapping windows of ``words`` whitespace-separated words.

    Windows run across paragraph breaks (as in DPR, Karpukhin et al. 2020, which split Wikipedia into
    disjoint 100-word blocks); the last window may be shorter.
    """
    if words <= 0:
        raise ValueError(f"words must be positive, got {words}")
    spans: list[tuple[int, int]] = []
    first = last = -1
    n = 0
    for m in _WORD.finditer(text):
        if n == 0:
            first = m.start()
        last = m.end()
        n += 1
        if n == words:
            spans.append((first, last))
            n = 0
    if n:
        spans.append((first, last))
    return spans


def split_paragraphs(doc: Document, min_chars: int = 0) -> list[Passage]:
    """The document's paragraphs as ``Passage``s (ids ``doc_id#p0``, ``#p1``...)."""
    return [
        Passage(unit_id(doc.id, "paragraph", i), doc.id, doc.title, doc.text[a:b], a, b, "paragraph")
        for i, (a, b) in enumerate(paragraph_spans(doc.text, min_chars))
    ]


def split_passages(doc: Document, words: int = 100) -> list[Passage]:
    """The document's ``words``-word passages as ``Passage``s (ids ``doc_id#w0``, ``#w1``...)."""
    return [
        Passage(unit_id(doc.id, "passage", i), doc.id, doc.title, doc.text[a:b], a, b, "passage")
        for i, (a, b) in enumerate(passage_spans(doc.text, words))
    ]
