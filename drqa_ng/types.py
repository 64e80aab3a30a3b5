"""Values that cross module boundaries. All frozen; no dicts or bare tuples in public APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Unit = Literal["doc", "paragraph", "passage"]
UNITS: tuple[Unit, ...] = ("doc", "paragraph", "passage")
UNIT_SEP = "#"
"""Separator between a document id and a unit suffix: ``"12#p3"`` is paragraph 3 of doc 12."""


@dataclass(frozen=True, slots=True)
class Document:
    """One article: ``text`` is plain text, paragraphs separated by blank lines."""

    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrievable unit of a document (the whole doc, a paragraph or a ~100-word window).

    ``start``/``end`` are character offsets into the document text: ``doc.text[start:end] == text``.
    """

    id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    unit: Unit = "paragraph"


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved unit: its id (a Passage id), the owning doc id and the retriever's score."""

    id: str
    doc_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Span:
    """An answer span found by the reader inside one passage; offsets into ``Passage.text``."""

    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class Answer:
    """A ranked answer with its evidence.

    ``start``/``end`` index into ``passage.text``; ``score`` is the final ranking score combining
    ``retriever_score`` and ``reader_score``.
    """

    text: str
    score: float
    passage: Passage
    start: int
    end: int
    reader_score: float
    retriever_score: float
    extra: tuple[tuple[str, str], ...] = field(default=())


def doc_id_of(unit_id: str) -> str:
    """The document id a unit id belongs to (unit ids are ``doc_id`` or ``doc_id#<suffix>``)."""
    head, sep, _ = unit_id.rpartition(UNIT_SEP)
    return head if sep else unit_id
