"""POST /v1/video/ask through FastAPI's test client (the router alone, mounted like create_app does)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from drqa_ng.errors import DrqaError
from drqa_ng.video.index import VideoIndex
from serving.deps import AppState
from serving.routers import video as video_router
from serving.routers.video import VideoSettings, VideoState, video_admission
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
    extra = (("video_index", "/v"), ("video_deadline_s", "5"), ("video_max_frames", "12"))
    vs = VideoSettings.from_server(ServerSettings(extra=extra))
    assert vs is not None and vs.deadline_s == 5.0 and vs.max_frames == 12
    with pytest.raises(DrqaError, match="video_deadline_s"):
        VideoSettings.from_server(ServerSettings(extra=(("video_index", "/v"), ("video_deadline_s", "soon"))))


class SlowRecognizer(CountingRecognizer):
    """Counts frames like ``CountingRecognizer``; blocks in ``recognize`` until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.frames_seen = 0

    def recognize(self, frames):  # type: ignore[no-untyped-def]
        self.entered.set()
        self.release.wait(10)
        self.frames_seen += len(frames)
        return super().recognize(frames)


def _state(index_dir: Path, recognizer: object, **kw: object) -> VideoState:
    deadline = float(kw.pop("deadline_s", 30.0))  # type: ignore[arg-type]
    frames = int(kw.pop("max_frames", 64))  # type: ignore[call-overload]
    return VideoState(
        VideoIndex.open(index_dir),
        (),
        recognizer,  # type: ignore[arg-type]
        deadline_s=deadline,
        max_frames=frames,
        admission=video_admission(deadline, frames),
        **kw,  # type: ignore[arg-type]
    )


def test_more_frames_than_the_cap_is_422_naming_it(video_index_dir: Path) -> None:
    """Before: k 20 x 8 frames was accepted and took 36 s."""
    app = _app()
    app.state.video = _state(video_index_dir, CountingRecognizer(), max_frames=12)
    c = TestClient(app)
    r = c.post("/v1/video/ask", json={"question": "keeper", "k": 4, "frames_per_segment": 4})
    assert r.status_code == 422 and "16 frames" in r.json()["detail"] and "12" in r.json()["detail"]
    assert (
        c.post("/v1/video/ask", json={"question": "keeper", "k": 3, "frames_per_segment": 4}).status_code
        == 200
    )
    # without recognition no frame is decoded: the cap does not apply
    assert (
        c.post("/v1/video/ask", json={"question": "keeper", "k": 20, "recognize": False}).status_code == 200
    )


def test_video_asks_run_one_at_a_time_and_those_that_would_be_late_are_503_at_once(
    video_index_dir: Path,
) -> None:
    """Before: 30 concurrent heavy asks all ran at once in the thread pool; none answered in 300 s, no 503."""
    rec = SlowRecognizer()
    app = _app()
    app.state.video = state = _state(video_index_dir, rec, deadline_s=30.0)
    state.admission.gate.rate.add(1, 1.0)  # measured so far: one unit a second
    body = {"question": "keeper", "k": 2, "frames_per_segment": 2}  # 2 segments + 4 frames = 6 units
    with TestClient(app) as c, ThreadPoolExecutor(2) as ex:  # one event loop for all requests
        first = ex.submit(c.post, "/v1/video/ask", json=body)
        assert rec.entered.wait(10)
        second = ex.submit(c.post, "/v1/video/ask", json=body)  # 12 s expected: waits its turn
        while state.admission.gate.in_flight < 2:
            time.sleep(0.01)
        late = c.post("/v1/video/ask", json={**body, "k": 8})  # 8 segments + 16 frames: (12 + 24) / 1 = 36 s
        assert late.status_code == 503 and "expected wait 36.0 s" in late.json()["detail"]
        rec.release.set()
        assert first.result(10).status_code == 200 and second.result(10).status_code == 200
    assert state.admission.gate.shed == 1


def test_a_video_ask_past_its_deadline_or_at_shutdown_is_abandoned_with_503(
    video_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: no deadline, and SIGTERM waited for every video ask in progress (36 s each)."""
    monkeypatch.setattr(video_router, "RECOGNIZE_CHUNK", 1)  # a check before every frame
    rec = SlowRecognizer()
    app = _app()
    app.state.video = state = _state(video_index_dir, rec, deadline_s=0.2)
    c = TestClient(app)
    body = {"question": "keeper", "k": 3, "frames_per_segment": 4}  # several frames: several chunks
    with ThreadPoolExecutor(1) as ex:
        r = ex.submit(c.post, "/v1/video/ask", json=body)
        assert rec.entered.wait(10)
        time.sleep(0.3)  # past the deadline while the first chunk is recognised
        rec.release.set()
        reply = r.result(10)
    assert reply.status_code == 503 and "deadline" in reply.json()["detail"]
    while state.admission.gate.in_flight:
        time.sleep(0.01)
    assert rec.frames_seen == 1  # the later frames were never recognised

    rec2 = SlowRecognizer()
    app.state.video = state = _state(video_index_dir, rec2, deadline_s=30.0)
    with ThreadPoolExecutor(1) as ex:
        r = ex.submit(c.post, "/v1/video/ask", json=body)
        assert rec2.entered.wait(10)
        state.stopping.set()  # what SIGTERM does (serving.server.StoppingServer)
        rec2.release.set()
        reply = r.result(10)
    assert reply.status_code == 503 and "shutting down" in reply.json()["detail"]
    assert rec2.frames_seen == 1
