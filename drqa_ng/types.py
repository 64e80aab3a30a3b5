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
class Support:
    """The candidate spans merged into one answer (same SQuAD-normalised text, DrQA-style aggregation):
    ``count`` spans, found in the passages ``passage_ids`` (distinct, best-scoring first)."""

    count: int
    passage_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """A ranked answer with its evidence.

    ``start``/``end`` index into ``passage.text``; ``score`` is the raw ranking score of the answer's
    best span, combining ``retriever_score`` (the retriever's per-question [0, 1] norm) and
    ``reader_score`` (the span logit). The pipeline also fills the typed evidence fields:
    ``retriever_raw`` / ``retriever_rank`` (raw score and 1-based rank of the hit the passage came from;
    0 = unknown), ``span_prob`` (softmax probability of the answer over all candidate spans of the
    question, summed over the merged spans), ``support`` and ``confidence`` (calibrated probability that
    the answer is correct, in [0, 1]; ``None`` where nothing computed it, e.g. a bare reader).
    """

    text: str
    score: float
    passage: Passage
    start: int
    end: int
    reader_score: float
    retriever_score: float
    extra: tuple[tuple[str, str], ...] = field(default=())
    retriever_raw: float = 0.0
    retriever_rank: int = 0
    span_prob: float = 0.0
    support: Support | None = None
    confidence: float | None = None


def doc_id_of(unit_id: str) -> str:
    """The document id a unit id belongs to (unit ids are ``doc_id`` or ``doc_id#<suffix>``)."""
    head, sep, _ = unit_id.rpartition(UNIT_SEP)
    return head if sep else unit_id


@dataclass(frozen=True, slots=True)
class Detection:
    """One thing found in a frame: a label ("face", "person", "text" or a class name), score in [0, 1],
    box ``(x, y, w, h)`` in the frame's pixels, and for OCR the recognised ``text``."""

    label: str
    score: float
    box: tuple[int, int, int, int]
    text: str = ""
