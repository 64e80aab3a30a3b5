"""The protocols the stages meet at, declared once: retriever, reader, passage store, gold question,
text encoder (dense retrieval), frame recogniser (video) and progress bar.

Structural types only (``typing.Protocol``): an implementation never imports this module to satisfy
one. The concrete classes live with their stage (``SparseIndex``, ``SpanReader``, ``DocStore``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from drqa_ng.types import Answer, Detection, Document, Hit, Passage, Unit


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
    ``read_prepared(prepare(q, p), n)`` equals ``read(q, p, n)``. ``every_passage=True`` appends, after
    the ``top_n``, the best span of each passage that has none among them (how well each passage reads)."""

    def prepare(self, questions: Sequence[str], passages: Sequence[Sequence[Passage]]) -> Any: ...

    def read_prepared(
        self, prep: Any, top_n: int = 1, *, every_passage: bool = False
    ) -> list[list[Answer]]: ...


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


class TextEncoder(Protocol):
    """What a dense index needs from an encoder: ``Encoder`` (MiniLM) and
    ``drqa_ng.retrieval.static.StaticEncoder`` (distilled static vectors) implement it."""

    @property
    def name(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    @property
    def backend(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(
        self, texts: Sequence[str], batch_size: int = ..., max_length: int | None = None
    ) -> np.ndarray: ...


@runtime_checkable
class Recognizer(Protocol):
    """Batch-first: one list of detections per frame (RGB uint8, H x W x 3); ``drqa_ng.video.recognize``
    holds the implementations."""

    @property
    def name(self) -> str: ...

    def recognize(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]: ...


class Progress(Protocol):
    """A progress bar (``tqdm`` is one): ``update`` per question done, ``reset`` before a second pass."""

    def update(self, n: int) -> object: ...

    def reset(self) -> object: ...
