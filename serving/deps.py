"""Typed FastAPI dependencies: the loaded state and the API-key check."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from drqa_ng.pipeline import QAPipeline
from drqa_ng.protocols import Reader
from drqa_ng.types import Answer, Passage
from serving.admission import Admission
from serving.batching import MicroBatcher
from serving.guard import key_matches
from serving.settings import ServerSettings


@dataclass(frozen=True, slots=True)
class AppState:
    """Everything loaded once in the lifespan and shared by the routers."""

    settings: ServerSettings
    pipeline: QAPipeline
    batcher: MicroBatcher
    search_gate: Admission
    reader_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held around every use of the pipeline's reader (the batcher's asks, optional routers' reads)."""
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the server is told to stop (SIGTERM/SIGINT): long work checks it and gives up."""

    def shared_reader(self) -> Reader:
        """The pipeline's reader for another route: its reads wait for ``reader_lock`` like the asks do."""
        return LockedReader(self.pipeline.reader, self.reader_lock)


@dataclass(frozen=True, slots=True)
class LockedReader:
    """A reader used from several threads, one ``read`` at a time (the model and its tokenizer are not
    meant for concurrent calls)."""

    reader: Reader
    lock: threading.Lock

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int = 1
    ) -> list[list[Answer]]:
        with self.lock:
            return self.reader.read(questions, passages, top_n)


def get_state(request: Request) -> AppState:
    state: AppState | None = getattr(request.app.state, "drqa", None)
    if state is None:
        raise HTTPException(status_code=503, detail="models are still loading")
    return state


State = Annotated[AppState, Depends(get_state)]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def require_api_key(request: Request, key: Annotated[str | None, Security(_api_key_header)]) -> None:
    """401 unless the server has no key or ``X-API-Key`` matches it (constant-time compare).

    ``RequestGuard`` already checks the key before the body is read; this dependency declares the
    scheme in OpenAPI (only when a key is set) and checks again for routes mounted outside ``/v1``.
    """
    expected: str | None = request.app.state.settings.api_key
    if expected is None:
        return
    if not key_matches(key, expected):
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header")
