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
from drqa_ng.pipeline import QAPipeline, QAResult
from drqa_ng.request import HARD_LIMITS, Request
from serving.admission import Admission, AdmissionGate
from serving.batching import MicroBatcher
from serving.csp import DocsPagesPolicy
from serving.deps import AppState, require_api_key
from serving.errors import AUTH_RESPONSES, ERROR_RESPONSES, install_error_handlers
from serving.guard import RequestGuard
from serving.openapi import install_limited_openapi
from serving.routers import ask, docs, health, search
from serving.settings import ServerSettings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Searches run at once (the rest wait their turn, counted by the search gate): about the cores a
# search keeps busy, so a waiting search does not slow down the running ones.
SEARCH_CONCURRENCY = 2

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
        app.state.stopping.clear()  # the same app may be started again (tests)

        def ask(questions: Sequence[str], top_n: int, k: int | None) -> list[QAResult]:
            with lock:  # the questions were checked by the router (``check_request``)
                return ready.answer(Request(tuple(questions), k, top_n))

        # Admission by expected wait (serving.admission): questions for the batcher, queries for search.
        ask_gate = AdmissionGate(
            settings.deadline_s,
            name="ask questions",
            cold_units=0,  # before the first measurement: only a request with nothing ahead of it
            retry_after_s=settings.retry_after_s,
        )
        batcher = MicroBatcher(
            ask,
            max_batch=settings.max_batch,
            max_wait_ms=settings.batch_wait_ms,
            max_pending=settings.max_queue,
            retry_after_s=settings.retry_after_s,
            gate=ask_gate,
        )
        search_gate = Admission(
            AdmissionGate(
                settings.deadline_s,
                name="searches",
                max_in_flight=settings.max_queue,
                cold_units=0,
                retry_after_s=settings.retry_after_s,
            ),
            concurrency=SEARCH_CONCURRENCY,
            timeout_s=settings.request_timeout_s,
        )
        await batcher.start()
        state = AppState(
            settings=settings,
            pipeline=pipe,
            batcher=batcher,
            search_gate=search_gate,
            reader_lock=lock,
            stopping=app.state.stopping,
        )
        for mod in extra_modules:
            setup = getattr(mod, "setup", None)
            if setup is not None:
                setup(app, state)
        app.state.drqa = state
        try:
            yield
        finally:
            app.state.stopping.set()
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
    # Set by serving.server on SIGTERM/SIGINT (before uvicorn's drain) and at shutdown: long work
    # (the video route) gives up at its next check instead of holding the drain.
    app.state.stopping = threading.Event()

    install_error_handlers(app)
    limits = settings.limits.within(HARD_LIMITS)
    install_limited_openapi(
        app,
        max_questions=limits.questions,
        max_chars=limits.question_chars,
        max_top_n=limits.top_n,
        max_k=limits.k,
    )

    def shed(path: str) -> None:
        """Refuse (OverloadedError) a request to ``path`` that its gate would refuse whatever its size."""
        gate = gates(app).get(path)
        if gate is not None:
            gate.check(1)

    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        api_key=settings.api_key,
        body_timeout_s=settings.body_timeout_s,
        shed=shed,
    )
    app.add_middleware(DocsPagesPolicy)  # /docs and /redoc fetch nothing from another host

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


def gates(app: FastAPI) -> dict[str, AdmissionGate]:
    """The admission gate of each gated route (none before startup)."""
    state: AppState | None = app.state.drqa
    if state is None:
        return {}
    out = {"/v1/ask": state.batcher.gate, "/v1/search": state.search_gate.gate}
    video = getattr(app.state, "video", None)
    if video is not None:
        out["/v1/video/ask"] = video.admission.gate
    return {path: gate for path, gate in out.items() if gate is not None}
