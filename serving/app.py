"""The HTTP app factory: ``create_app(settings)`` builds a FastAPI app; models load in its lifespan.

Routes: ``POST /v1/ask``, ``POST /v1/search``, ``GET /v1/docs/{id}``, ``GET /healthz``, the web
page at ``/`` and OpenAPI docs at ``/docs`` (packaged Swagger UI files, no CDN). Every error is
answered in one shape by ``serving.errors``; ``serving.guard.RequestGuard`` applies the body-size
limit and the API key before a body is read. Optional routers (e.g. video) are listed in ``OPTIONAL_ROUTERS`` (included
when their settings key is set in ``settings.extra``) or ``settings.routers`` (always included):
each is a module exposing ``router`` and, optionally, ``setup(app, state)`` (called at startup with
the loaded ``AppState``, to load its own state; it may share the pipeline's reader or store).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from drqa_ng import __version__
from drqa_ng.errors import InputError
from drqa_ng.pipeline import PreparedBatch, QAPipeline
from drqa_ng.types import Answer
from serving.admission import Admission
from serving.batching import BatchStages, MicroBatcher
from serving.deps import AppState, require_api_key
from serving.errors import AUTH_RESPONSES, ERROR_RESPONSES, install_error_handlers
from serving.guard import RequestGuard
from serving.openapi import install_limited_openapi
from serving.routers import ask, docs, health, search
from serving.settings import ServerSettings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Optional router module -> the ``settings.extra`` key that switches it on (one line per router).
# Imported only when switched on, so a plain QA server never imports the video stack (torch, cv2).
OPTIONAL_ROUTERS: dict[str, str] = {
    "serving.routers.video": "video_index",
}


def create_app(settings: ServerSettings, *, pipeline: QAPipeline | None = None) -> FastAPI:
    """Build the app. ``pipeline`` (tests, benchmarks) skips loading from ``settings.pipeline``."""
    if pipeline is None and settings.pipeline is None:
        raise InputError("create_app needs settings.pipeline or a ready pipeline")
    wanted = [m for m, key in OPTIONAL_ROUTERS.items() if settings.get(key)] + list(settings.routers)
    extra_modules = [importlib.import_module(m) for m in dict.fromkeys(wanted)]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pipe = pipeline
        if pipe is None:
            assert settings.pipeline is not None
            log.info("loading pipeline from %s", settings.pipeline)
            pipe = QAPipeline.from_settings(settings.pipeline)
        lock = threading.Lock()  # one reader call at a time: the batcher's and any optional route's
        ready = pipe

        def ask(questions: Sequence[str], top_n: int, k: int | None) -> list[list[Answer]]:
            with lock:
                return ready.ask(questions, top_n, k)

        def prepare(questions: Sequence[str], k: int | None) -> object:
            return ready.prepare(questions, k)  # no lock: retrieval and tokenising overlap the reader

        def finish(prepared: object, top_n: int) -> list[list[Answer]]:
            assert isinstance(prepared, PreparedBatch)
            with lock:
                return [list(r.answers) for r in ready.finish(prepared, top_n)]

        batcher = MicroBatcher(
            ask,
            stages=BatchStages(prepare, finish) if pipe.overlap else None,
            max_batch=settings.max_batch,
            max_wait_ms=settings.batch_wait_ms,
            max_pending=settings.max_queue,
            retry_after_s=settings.retry_after_s,
        )
        search_gate = Admission(
            settings.max_queue, settings.request_timeout_s, settings.retry_after_s, name="searches"
        )
        await batcher.start()
        state = AppState(
            settings=settings, pipeline=pipe, batcher=batcher, search_gate=search_gate, reader_lock=lock
        )
        for mod in extra_modules:
            setup = getattr(mod, "setup", None)
            if setup is not None:
                setup(app, state)
        app.state.drqa = state
        try:
            yield
        finally:
            await batcher.stop()
            app.state.drqa = None

    # FastAPIOffline serves /docs and /redoc from the Swagger UI / ReDoc files packaged in the
    # fastapi-offline wheel (under /static-offline-docs), so the docs page works without a CDN.
    app = FastAPIOffline(
        title="drqa-ng",
        version=__version__,
        description="Open-domain question answering over a document collection.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.drqa = None

    install_error_handlers(app)
    pipeline_chars = (pipeline or settings.pipeline).max_question_chars  # type: ignore[union-attr]
    install_limited_openapi(
        app,
        max_questions=settings.max_questions,
        max_chars=min(settings.max_question_chars, pipeline_chars),
        max_top_n=settings.max_top_n,
        max_k=settings.max_k,
    )
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, api_key=settings.api_key)

    # The key scheme (and its 401) is declared only when a key is configured.
    keyed = settings.api_key is not None
    auth = [Depends(require_api_key)] if keyed else []
    responses = {**ERROR_RESPONSES, **(AUTH_RESPONSES if keyed else {})}
    app.include_router(health.router)
    for router in (ask.router, search.router, docs.router, *(m.router for m in extra_modules)):
        app.include_router(router, prefix="/v1", dependencies=auth, responses=responses)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app
