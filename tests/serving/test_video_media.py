"""``GET /v1/video/media/{id}`` serves only video files inside the index folder or the allowed roots."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.routers.video import media_path
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline


@pytest.fixture
def index_copy(video_index_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "vindex"
    shutil.copytree(video_index_dir, out)
    return out


def _point(index: Path, video_id: str, path: str) -> None:
    videos = json.loads((index / "videos.json").read_text())
    for v in videos:
        if v["id"] == video_id:
            v["path"] = path
    (index / "videos.json").write_text(json.dumps(videos))


def _client(index: Path, roots: str | None = None) -> Iterator[TestClient]:
    extra = [("video_index", str(index)), ("video_recognize", "0")]
    if roots is not None:
        extra.append(("video_media_roots", roots))
    with TestClient(create_app(ServerSettings(extra=tuple(extra)), pipeline=fake_pipeline())) as c:
        yield c


def test_any_absolute_path_in_videos_json_is_not_served(
    index_copy: Path, tmp_path: Path, video_dir: Path
) -> None:
    """Before: whatever videos.json named was served (an edited index could read /etc/passwd)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    _point(index_copy, "alpha", str(secret))
    _point(index_copy, "beta", "/etc/passwd")
    for c in _client(index_copy, roots=str(tmp_path)):  # even inside an allowed root: not a video file
        for vid in ("alpha", "beta"):
            r = c.get(f"/v1/video/media/{vid}")
            assert r.status_code == 404 and "password" not in r.text and "root:" not in r.text


def test_videos_outside_the_allowed_roots_are_not_served(index_copy: Path, video_dir: Path) -> None:
    for c in _client(index_copy):  # the videos lie outside the index folder and no root is given
        r = c.get("/v1/video/media/alpha")
        assert r.status_code == 404 and "--video-media-root" in r.json()["detail"]
    for c in _client(index_copy, roots=str(video_dir)):
        assert c.get("/v1/video/media/alpha").status_code == 200


def test_videos_inside_the_index_folder_are_served_and_symlinks_are_resolved(
    index_copy: Path, video_dir: Path
) -> None:
    shutil.copy(video_dir / "alpha.avi", index_copy / "alpha.avi")
    _point(index_copy, "alpha", "alpha.avi")  # relative: from the index folder
    (index_copy / "beta.avi").symlink_to(video_dir / "beta.avi")  # a link out of the index
    _point(index_copy, "beta", str(index_copy / "beta.avi"))
    for c in _client(index_copy):
        r = c.get("/v1/video/media/alpha")
        assert r.status_code == 200 and r.content == (video_dir / "alpha.avi").read_bytes()
        assert c.get("/v1/video/media/beta").status_code == 404


def test_media_path(tmp_path: Path) -> None:
    roots = [tmp_path / "a"]
    assert media_path(tmp_path, str(tmp_path / "a" / "v.mp4"), roots) == tmp_path / "a" / "v.mp4"
    assert media_path(tmp_path, str(tmp_path / "a" / ".." / "v.mp4"), roots) is None
    assert media_path(tmp_path, str(tmp_path / "a" / "notes.txt"), roots) is None
    assert media_path(tmp_path / "a", "v.webm", roots) == tmp_path / "a" / "v.webm"


@pytest.mark.parametrize(
    ("range_header", "status", "error"),
    [
        ("bytes=999999999-", 416, "RangeNotSatisfiable"),
        ("bytes=abc", 400, "BadRequest"),
        ("items=1-2", 400, "BadRequest"),
    ],
)
def test_range_errors_are_in_the_error_shape(
    index_copy: Path, video_dir: Path, range_header: str, status: int, error: str
) -> None:
    """Before: Starlette's text/plain replies (an empty 416, "Malformed range header.")."""
    for c in _client(index_copy, roots=str(video_dir)):
        r = c.get("/v1/video/media/alpha", headers={"Range": range_header})
        assert r.status_code == status and r.headers["content-type"] == "application/json"
        body = r.json()
        assert set(body) == {"detail", "error"} and body["error"] == error
        if status == 416:
            size = (video_dir / "alpha.avi").stat().st_size
            assert r.headers["content-range"] == f"bytes */{size}"
