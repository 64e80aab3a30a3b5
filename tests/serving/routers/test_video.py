"""POST /v1/video/ask through FastAPI's test client (the router alone, mounted like create_app does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from drqa_ng.errors import DrqaError
from drqa_ng.video.index import VideoIndex
from serving.routers import video as video_router
from tests.fixtures.video import CountingRecognizer


def _app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(DrqaError)
    async def _err(request: Request, exc: DrqaError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content={"detail": str(exc)})

    app.include_router(video_router.router, prefix="/v1")
    return app


def test_ask_endpoint(video_index_dir: Path) -> None:
    app = _app()
    app.state.video_index = VideoIndex.open(video_index_dir)
    app.state.video_recognizer = CountingRecognizer()
    client = TestClient(app)
    r = client.post("/v1/video/ask", json={"question": "What is the keeper's name?", "k": 1})
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    (a,) = res["answers"]
    assert a["video_id"] == "alpha" and a["link"].startswith("alpha.avi#t=")
    assert a["accounting"]["frames_heavy"] == 2 and len(a["frames"]) == 2
    r = client.post("/v1/video/ask", json={"questions": ["red balloon", "camels"], "recognize": False})
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    assert all(ans["frames"] == [] for q in r.json()["results"] for ans in q["answers"])


@pytest.mark.parametrize(
    "body",
    [{}, {"question": "a", "questions": ["b"]}, {"question": "x", "k": 0}, {"question": "x", "extra": 1}],
)
def test_bad_requests(video_index_dir: Path, body: dict[str, object]) -> None:
    app = _app()
    app.state.video_index = VideoIndex.open(video_index_dir)
    assert TestClient(app).post("/v1/video/ask", json=body).status_code == 422


def test_no_index_is_404_and_setup_loads_it(video_index_dir: Path) -> None:
    app = _app()
    client = TestClient(app)
    assert client.post("/v1/video/ask", json={"question": "x"}).status_code == 404

    class Settings:
        def get(self, key: str, default: str | None = None) -> str | None:
            return {"video_index": str(video_index_dir), "video_recognize": "0"}.get(key, default)

    video_router.setup(app, Settings())
    assert isinstance(app.state.video_index, VideoIndex)
    assert client.post("/v1/video/ask", json={"question": "camels"}).status_code == 200
