"""``POST /v1/video/ask``: answer questions over a video index with timestamp links and what is seen;
``GET /v1/video/media/{video_id}``: the indexed video file itself (HTTP range requests, so a browser
can seek to an answer's ``media_url`` fragment ``#t=start,end``).

The index is ``request.app.state.video_index`` (a ``VideoIndex``); ``setup(app, settings)`` loads it
at startup from the ``video_index`` extra setting, with the heavy recogniser unless
``video_recognize`` is "0". An optional reader is taken from ``app.state.video_reader``.

Media are served only from inside the index folder or a folder named in the ``video_media_roots``
setting (``os.pathsep``-separated; ``drqa-ng serve --video-media-root``), and only video/audio
files: the paths in the index's ``videos.json`` are not trusted to point anywhere else (an edited
index must not turn this route into a reader of any file on the server).
"""

from __future__ import annotations

import mimetypes
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from drqa_ng.errors import NotFoundError
from drqa_ng.video.index import VideoAnswer
from drqa_ng.video.segments import timestamp_link
from serving.schemas import LIST_SCHEMA, TEXT_SCHEMA, QuestionsRequest, TextItem, WholeNumber

router = APIRouter(tags=["video"])

MAX_QUESTIONS = 16
MAX_CHARS = 1000


class VideoAskRequest(QuestionsRequest):
    """One question or many; ``k`` segments each, ``frames_per_segment`` frames recognised per segment."""

    question: Annotated[str, StringConstraints(max_length=MAX_CHARS)] | SkipJsonSchema[None] = Field(
        default=None, examples=["Who is the sailor?"], json_schema_extra=TEXT_SCHEMA
    )
    questions: Annotated[list[TextItem], Field(max_length=MAX_QUESTIONS)] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=LIST_SCHEMA
    )
    k: WholeNumber = Field(default=3, ge=1, le=20)
    frames_per_segment: WholeNumber = Field(default=2, ge=0, le=8)
    recognize: bool = True


class DetectionOut(BaseModel):
    label: str
    score: float
    box: tuple[int, int, int, int]
    text: str


class FrameOut(BaseModel):
    t: float
    detections: list[DetectionOut]


class AccountingOut(BaseModel):
    frames_decoded: int
    frames_heavy: int
    retrieve_s: float
    decode_s: float
    recognize_s: float
    read_s: float
    total_s: float
    index_frames_sampled: int
    index_frames_tagged: int
    index_frames_teacher: int


class VideoAnswerOut(BaseModel):
    video_id: str
    segment_id: str
    t_start: float
    t_end: float
    link: str
    media_url: str
    text: str
    tags: list[str]
    score: float
    answer: str | None
    frames: list[FrameOut]
    accounting: AccountingOut

    @classmethod
    def of(cls, a: VideoAnswer) -> VideoAnswerOut:
        c = a.accounting
        return cls(
            video_id=a.video_id,
            segment_id=a.segment_id,
            t_start=a.t_start,
            t_end=a.t_end,
            link=a.link,
            media_url=timestamp_link(f"/v1/video/media/{quote(a.video_id, safe='')}", a.t_start, a.t_end),
            text=a.text,
            tags=list(a.tags),
            score=a.score,
            answer=a.span.text if a.span is not None else None,
            frames=[
                FrameOut(
                    t=f.t,
                    detections=[
                        DetectionOut(label=d.label, score=d.score, box=d.box, text=d.text)
                        for d in f.detections
                    ],
                )
                for f in a.findings
            ],
            accounting=AccountingOut(
                frames_decoded=c.frames_decoded,
                frames_heavy=c.frames_heavy,
                retrieve_s=c.retrieve_s,
                decode_s=c.decode_s,
                recognize_s=c.recognize_s,
                read_s=c.read_s,
                total_s=c.total_s,
                index_frames_sampled=c.index_frames_sampled,
                index_frames_tagged=c.index_frames_tagged,
                index_frames_teacher=c.index_frames_teacher,
            ),
        )


class VideoQuestionAnswers(BaseModel):
    question: str
    answers: list[VideoAnswerOut]


class VideoAskResponse(BaseModel):
    results: list[VideoQuestionAnswers]
    latency_ms: float


def setup(app: FastAPI, settings: Any) -> None:
    """Load the video index named by the ``video_index`` setting into ``app.state`` (no-op when unset)."""
    from drqa_ng.video.index import VideoIndex
    from drqa_ng.video.recognize import default_recognizer

    path = settings.get("video_index") if hasattr(settings, "get") else None
    if not path:
        return
    app.state.video_index = VideoIndex.open(Path(path))
    roots = [Path(path)] + [Path(r) for r in (settings.get("video_media_roots") or "").split(os.pathsep) if r]
    app.state.video_media_roots = tuple(r.resolve() for r in roots)
    if settings.get("video_recognize", "1") != "0":
        app.state.video_recognizer = default_recognizer()


@router.post("/video/ask", response_model=VideoAskResponse)
def video_ask(body: VideoAskRequest, request: Request) -> VideoAskResponse:
    """Sync on purpose: decoding and recognition are CPU-bound, so FastAPI runs this in its thread pool."""
    t0 = time.perf_counter()
    index = getattr(request.app.state, "video_index", None)
    if index is None:
        raise NotFoundError("this server has no video index (set the video_index setting)")
    recognizer = getattr(request.app.state, "video_recognizer", None) if body.recognize else None
    reader = getattr(request.app.state, "video_reader", None)
    questions = body.as_list()
    results = index.ask(
        questions, k=body.k, recognizer=recognizer, reader=reader, frames_per_segment=body.frames_per_segment
    )
    return VideoAskResponse(
        results=[
            VideoQuestionAnswers(question=q, answers=[VideoAnswerOut.of(a) for a in ans])
            for q, ans in zip(questions, results, strict=True)
        ],
        latency_ms=(time.perf_counter() - t0) * 1000,
    )


def media_path(index_dir: Path, recorded: str, roots: Sequence[Path]) -> Path | None:
    """The real path of a recorded video if it is a video/audio file inside one of ``roots``, else None.

    A relative ``recorded`` path is taken from ``index_dir``; symlinks are resolved before the check.
    """
    path = (Path(index_dir) / recorded).resolve()
    kind = (mimetypes.guess_type(path.name)[0] or "").split("/")[0]
    if kind not in ("video", "audio"):
        return None
    return path if any(path.is_relative_to(root) for root in roots) else None


@router.get(
    "/video/media/{video_id}", response_class=FileResponse, responses={404: {"description": "unknown video"}}
)
def video_media(video_id: str, request: Request) -> FileResponse:
    """The source file of an indexed video, served with range support (seekable in a ``<video>`` element)."""
    index = getattr(request.app.state, "video_index", None)
    if index is None:
        raise NotFoundError("this server has no video index (set the video_index setting)")
    record = next((v for v in index.videos if v.id == video_id), None)
    if record is None:
        raise NotFoundError(f"no video {video_id!r} in the index")
    path = media_path(index.path, record.path, getattr(request.app.state, "video_media_roots", ()))
    if path is None:
        raise NotFoundError(
            f"video {video_id!r} is not under an allowed media folder (serve --video-media-root DIR)"
        )
    if not path.is_file():
        raise NotFoundError(f"video {video_id!r} moved or deleted since indexing")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=path.name, content_disposition_type="inline")
