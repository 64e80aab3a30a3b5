"""The protocols the stages meet at, declared once: retriever, reader, passage store, gold question.

Structural types only (``typing.Protocol``): an implementation never imports this module to satisfy
one. The concrete classes live with their stage (``SparseIndex``, ``SpanReader``, ``DocStore``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from drqa_ng.types import Answer, Document, Hit, Passage, Unit


@runtime_checkable
class Retriever(Protocol):
    """Batch-first search: one list of hits per query, best first, at most ``k`` each."""

    @property
    def unit(self) -> str:
        """The unit the index holds: "doc", "paragraph" or "passage"."""
        ...

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]: ...


class Reader(Protocol):
    """Finds answer spans for questions in their passages (``drqa_ng.reading.load_reader`` returns one).

    One list of at most ``top_n`` answers per question, best first.
    """

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int = 1
    ) -> list[list[Answer]]: ...


@runtime_checkable
class StagedRead(Reader, Protocol):
    """A reader whose ``read`` splits into a CPU half (``prepare``: tokenise, build windows) and a model
    half (``read_prepared``), so a pipeline can prepare the next batch while the model reads this one.
    ``read_prepared(prepare(q, p), n)`` equals ``read(q, p, n)``."""

    def prepare(self, questions: Sequence[str], passages: Sequence[Sequence[Passage]]) -> Any: ...

    def read_prepared(self, prep: Any, top_n: int = 1) -> list[list[Answer]]: ...


class PassageStore(Protocol):
    """Batched id -> text lookups (``drqa_ng.store.docstore.DocStore`` implements it); None for unknown ids."""

    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]: ...

    def get_documents(self, ids: Sequence[str]) -> list[Document | None]: ...

    def get_units(self, doc_ids: Sequence[str], unit: Unit) -> list[list[Passage]]: ...


class GoldQuestion(Protocol):
    """Anything with an id, a question, its paragraph and gold answers (``Question``, ``QAExample``)."""

    @property
    def id(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def context(self) -> str: ...
    @property
    def answers(self) -> tuple[str, ...]: ...
