"""The HTTP app factory: ``create_app(settings)`` builds a FastAPI app; models load in its lifespan.

Routes: ``POST /v1/ask``, ``POST /v1/search``, ``GET /v1/docs/{id}``, ``GET /healthz``, the web
page at ``/`` and OpenAPI docs at ``/docs`` (packaged Swagger UI files, no CDN). ``DrqaError`` subclasses become HTTP errors in one
handler (``.http_status``). Optional routers (e.g. video) are listed in ``OPTIONAL_ROUTERS`` (included
when their settings key is set in ``settings.extra``) or ``settings.routers`` (always included):
each is a module exposing ``router`` and, optionally, ``setup(app, settings)`` (called at startup
to load its own state).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from drqa_ng import __version__
from drqa_ng.errors import DrqaError, InputError
from drqa_ng.pipeline import QAPipeline
from serving.batching import MicroBatcher
from serving.deps import AppState, require_api_key
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
        batcher = MicroBatcher(pipe.ask, max_batch=settings.max_batch, max_wait_ms=settings.batch_wait_ms)
        await batcher.start()
        for mod in extra_modules:
            setup = getattr(mod, "setup", None)
            if setup is not None:
                setup(app, settings)
        app.state.drqa = AppState(settings=settings, pipeline=pipe, batcher=batcher)
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

    @app.exception_handler(DrqaError)
    async def _drqa_error(request: Request, exc: DrqaError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.http_status, content={"detail": str(exc), "error": type(exc).__name__}
        )

    auth = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(ask.router, prefix="/v1", dependencies=auth)
    app.include_router(search.router, prefix="/v1", dependencies=auth)
    app.include_router(docs.router, prefix="/v1", dependencies=auth)
    for mod in extra_modules:
        app.include_router(mod.router, prefix="/v1", dependencies=auth)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app
