"""POST /v1/video/ask through FastAPI's test client (the router alone, mounted like create_app does)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from drqa_ng.errors import DrqaError
from drqa_ng.video.index import VideoIndex
from serving.deps import AppState
from serving.routers import video as video_router
from serving.routers.video import VideoSettings, VideoState
from serving.settings import ServerSettings
from tests.fixtures.video import CountingRecognizer
from tests.serving.fakes import fake_pipeline


def _app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(DrqaError)
    async def _err(request: Request, exc: DrqaError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content={"detail": str(exc)})

    app.include_router(video_router.router, prefix="/v1")
    return app


def test_ask_endpoint(video_index_dir: Path) -> None:
    app = _app()
    app.state.video = VideoState(VideoIndex.open(video_index_dir), (), CountingRecognizer())
    client = TestClient(app)
    r = client.post("/v1/video/ask", json={"question": "What is the keeper's name?", "k": 1})
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    (a,) = res["answers"]
    assert a["video_id"] == "alpha" and a["link"].startswith("alpha.avi#t=")
    assert a["accounting"]["frames_heavy"] == 2 and len(a["frames"]) == 2
    # one shape for the accounting: every field of VideoAccounting (the HTTP copy had lost five)
    from dataclasses import fields

    from drqa_ng.video.answers import VideoAccounting

    assert set(a["accounting"]) == {f.name for f in fields(VideoAccounting)}
    assert a["accounting"]["index_frames_decoded"] >= a["accounting"]["index_frames_sampled"] > 0
    r = client.post("/v1/video/ask", json={"questions": ["red balloon", "camels"], "recognize": False})
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    assert all(ans["frames"] == [] for q in r.json()["results"] for ans in q["answers"])


@pytest.mark.parametrize(
    "body",
    [{}, {"question": "a", "questions": ["b"]}, {"question": "x", "k": 0}, {"question": "x", "extra": 1}],
)
def test_bad_requests(video_index_dir: Path, body: dict[str, object]) -> None:
    app = _app()
    app.state.video = VideoState(VideoIndex.open(video_index_dir), ())
    assert TestClient(app).post("/v1/video/ask", json=body).status_code == 422


def test_no_index_is_404_and_setup_loads_it(video_index_dir: Path) -> None:
    app = _app()
    client = TestClient(app)
    assert client.post("/v1/video/ask", json={"question": "x"}).status_code == 404

    pipe = fake_pipeline()
    settings = ServerSettings(extra=(("video_index", str(video_index_dir)), ("video_recognize", "0")))
    video_router.setup(app, AppState(settings, pipe, None, None))  # type: ignore[arg-type]
    assert isinstance(app.state.video.index, VideoIndex) and app.state.video.recognizer is None
    assert app.state.video.reader.reader is pipe.reader  # the pipeline's reader, not a second copy
    assert client.post("/v1/video/ask", json={"question": "camels"}).status_code == 200


def test_video_settings_are_typed_from_the_server_extras(tmp_path: Path) -> None:
    assert VideoSettings.from_server(ServerSettings()) is None
    roots = f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"
    extra = (("video_index", "/v"), ("video_media_roots", roots), ("video_reader", "0"))
    vs = VideoSettings.from_server(ServerSettings(extra=extra))
    assert vs == VideoSettings(Path("/v"), (tmp_path / "a", tmp_path / "b"), recognize=True, read=False)
