"""``POST /v1/video/ask``: answer questions over a video index with timestamp links, what is seen and
the reader's answer span (as ``/v1/ask`` answers carry it, plus the segment's time range);
``GET /v1/video/media/{video_id}``: the indexed video file itself (HTTP range requests, so a browser
can seek to an answer's ``media_url`` fragment ``#t=start,end``).

``setup(app, state)`` reads ``VideoSettings`` from the server's extra settings (``video_index``,
``video_media_roots``, ``video_recognize``, ``video_reader``) and stores a ``VideoState`` in
``app.state.video``: the index, the heavy recogniser (unless ``video_recognize`` is "0") and the
QA pipeline's own reader for the spans (unless ``video_reader`` is "0"; no second copy is loaded, and
its calls take turns with the micro-batched asks through ``AppState.reader_lock``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from drqa_ng.errors import NotFoundError
from drqa_ng.presentation import video_answer_dict
from drqa_ng.protocols import Reader
from drqa_ng.request import DEFAULT_VIDEO_K, MAX_QUESTION_CHARS
from drqa_ng.video.answers import VideoAccounting, VideoAnswer
from drqa_ng.video.index import VideoIndex
from drqa_ng.video.qa import answer_questions
from drqa_ng.video.recognize import Recognizer
from drqa_ng.video.segments import timestamp_link
from serving.deps import AppState
from serving.schemas import LIST_SCHEMA, TEXT_SCHEMA, AnswerOut, QuestionsRequest, TextItem, WholeNumber
from serving.settings import ServerSettings

router = APIRouter(tags=["video"])

MAX_QUESTIONS = 16


class VideoAskRequest(QuestionsRequest):
    """One question or many; ``k`` segments each, ``frames_per_segment`` frames recognised per segment."""

    question: Annotated[str, StringConstraints(max_length=MAX_QUESTION_CHARS)] | SkipJsonSchema[None] = Field(
        default=None, examples=["Who is the sailor?"], json_schema_extra=TEXT_SCHEMA
    )
    questions: Annotated[list[TextItem], Field(max_length=MAX_QUESTIONS)] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=LIST_SCHEMA
    )
    k: WholeNumber = Field(default=DEFAULT_VIDEO_K, ge=1, le=20, description="segments per question")
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


class VideoSpanOut(AnswerOut):
    """The reader's answer in the segment, with the fields of a ``/v1/ask`` answer (``passage_id`` is the
    segment id, ``doc_id`` the video id, ``start``/``end`` index ``passage_text``: the segment's subtitles
    plus any OCR text) and the segment's time range; built from ``presentation.video_span_dict``."""

    t_start: float = Field(description="segment start, seconds into the video")
    t_end: float = Field(description="segment end, seconds into the video")


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
    answer: str | None = Field(description="the span's text (null without a reader); see span")
    span: VideoSpanOut | None = Field(default=None, description="the reader's answer span, if any")
    frames: list[FrameOut]
    accounting: VideoAccounting = Field(
        description="the work behind this question's answers (the CLI's `video-ask --json` has the same fields)"
    )

    @classmethod
    def of(cls, a: VideoAnswer) -> VideoAnswerOut:
        """From ``presentation.video_answer_dict`` (the CLI's ``video-ask --json``) plus the media URL."""
        media_url = timestamp_link(f"/v1/video/media/{quote(a.video_id, safe='')}", a.t_start, a.t_end)
        return cls.model_validate({**video_answer_dict(a), "media_url": media_url})


class VideoQuestionAnswers(BaseModel):
    question: str
    answers: list[VideoAnswerOut]


class VideoAskResponse(BaseModel):
    results: list[VideoQuestionAnswers]
    latency_ms: float


@dataclass(frozen=True, slots=True)
class VideoSettings:
    """The video route's settings, read from the server's extra settings by ``from_server``.

    ``index``: the video index folder; ``media_roots``: further folders whose videos may be served
    (the index folder always may); ``recognize``: load the heavy recogniser; ``read``: answer spans
    with the QA pipeline's reader.
    """

    index: Path
    media_roots: tuple[Path, ...] = ()
    recognize: bool = True
    read: bool = True

    @classmethod
    def from_server(cls, settings: ServerSettings) -> VideoSettings | None:
        """``None`` when no ``video_index`` is set."""
        path = settings.get("video_index")
        if not path:
            return None
        roots = tuple(Path(r) for r in (settings.get("video_media_roots") or "").split(os.pathsep) if r)
        return cls(
            index=Path(path),
            media_roots=roots,
            recognize=settings.get("video_recognize", "1") != "0",
            read=settings.get("video_reader", "1") != "0",
        )


@dataclass(frozen=True, slots=True)
class VideoState:
    """What the video routes use, loaded once at startup."""

    index: VideoIndex
    media_roots: tuple[Path, ...]
    recognizer: Recognizer | None = None
    reader: Reader | None = None


def load_state(vs: VideoSettings, reader: Reader | None) -> VideoState:
    """Open the index (and the recogniser when ``vs.recognize``); ``reader`` is kept when ``vs.read``."""
    from drqa_ng.video.recognize import default_recognizer

    roots = tuple(r.resolve() for r in (vs.index, *vs.media_roots))
    recognizer = default_recognizer() if vs.recognize else None
    return VideoState(VideoIndex.open(vs.index), roots, recognizer, reader if vs.read else None)


def setup(app: FastAPI, state: AppState) -> None:
    """Store the video state in ``app.state.video`` (no-op when no ``video_index`` is set)."""
    vs = VideoSettings.from_server(state.settings)
    if vs is not None:
        app.state.video = load_state(vs, state.shared_reader())


def get_video(request: Request) -> VideoState:
    video: VideoState | None = getattr(request.app.state, "video", None)
    if video is None:
        raise NotFoundError("this server has no video index (set the video_index setting)")
    return video


Video = Annotated[VideoState, Depends(get_video)]


@router.post("/video/ask", response_model=VideoAskResponse)
def video_ask(body: VideoAskRequest, video: Video) -> VideoAskResponse:
    """Sync on purpose: decoding and recognition are CPU-bound, so FastAPI runs this in its thread pool."""
    t0 = time.perf_counter()
    questions = body.as_list()
    results = answer_questions(
        video.index,
        questions,
        k=body.k,
        recognizer=video.recognizer if body.recognize else None,
        reader=video.reader,
        frames_per_segment=body.frames_per_segment,
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
def video_media(video_id: str, video: Video) -> FileResponse:
    """The source file of an indexed video, served with range support (seekable in a ``<video>`` element)."""
    record = next((v for v in video.index.videos if v.id == video_id), None)
    if record is None:
        raise NotFoundError(f"no video {video_id!r} in the index")
    path = media_path(video.index.path, record.path, video.media_roots)
    if path is None:
        raise NotFoundError(
            f"video {video_id!r} is not under an allowed media folder (serve --video-media-root DIR)"
        )
    if not path.is_file():
        raise NotFoundError(f"video {video_id!r} moved or deleted since indexing")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=path.name, content_disposition_type="inline")
