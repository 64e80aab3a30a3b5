"""``POST /v1/video/ask``: answer questions over a video index with timestamp links, what is seen and
the reader's answer span (as ``/v1/ask`` answers carry it, plus the segment's time range);
``GET /v1/video/media/{video_id}``: the indexed video file itself (HTTP range requests, so a browser
can seek to an answer's ``media_url`` fragment ``#t=start,end``).

``setup(app, state)`` reads ``VideoSettings`` from the server's extra settings (``video_index``,
``video_media_roots``, ``video_recognize``, ``video_reader``) and stores a ``VideoState`` in
``app.state.video``: the index, the heavy recogniser (unless ``video_recognize`` is "0") and the
QA pipeline's own reader for the spans (unless ``video_reader`` is "0"; no second copy is loaded, and
its calls take turns with the micro-batched asks through ``AppState.reader_lock``).

Load (see ``serving.admission``): one video request works at a time, the others wait their turn;
a request whose expected wait (work ahead / the measured rate, in segment-frames) is past
``video_deadline_s`` is refused at once with 503 + Retry-After, one that asks to recognise more than
``video_max_frames`` frames (questions x k x frames_per_segment) is refused with 422, and an admitted
one is abandoned with 503 at its deadline or when the server is told to stop: its recogniser works
through the frames a few at a time and checks between them (``DeadlineRecognizer``), so SIGTERM
does not wait for a long recognition.

Media are served only from inside the index folder or a folder named in the ``video_media_roots``
setting (``os.pathsep``-separated; ``drqa-ng serve --video-media-root``), and only video/audio
files: the paths in the index's ``videos.json`` are not trusted to point anywhere else (an edited
index must not turn this route into a reader of any file on the server).
"""

from __future__ import annotations

import json
import mimetypes
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema
from starlette.types import Message, Receive, Scope, Send

from drqa_ng.errors import InputError, NotFoundError, OverloadedError
from drqa_ng.presentation import video_answer_dict
from drqa_ng.protocols import Reader
from drqa_ng.request import DEFAULT_VIDEO_K, MAX_QUESTION_CHARS
from drqa_ng.types import Answer, Passage
from drqa_ng.video.answers import VideoAccounting, VideoAnswer
from drqa_ng.video.index import VideoIndex
from drqa_ng.video.qa import answer_questions
from drqa_ng.video.recognize import Detection, Recognizer
from drqa_ng.video.segments import timestamp_link
from serving.admission import Admission, AdmissionGate
from serving.deps import AppState
from serving.schemas import LIST_SCHEMA, TEXT_SCHEMA, AnswerOut, QuestionsRequest, TextItem, WholeNumber
from serving.settings import ServerSettings

router = APIRouter(tags=["video"])

MAX_QUESTIONS = 16
DEFAULT_DEADLINE_S = 30.0
DEFAULT_MAX_FRAMES = 16  # Haar + Tesseract: 0.2-1 s a frame on 2 cores, so ~3-16 s a request
# Range errors Starlette's FileResponse answers itself -> (error name, what went wrong).
RANGE_ERRORS = {
    400: ("BadRequest", "malformed Range header"),
    416: ("RangeNotSatisfiable", "range not satisfiable"),
}
RECOGNIZE_CHUNK = 4  # frames recognised between two deadline checks (about a second on 2 cores)


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
    deadline_s: float = DEFAULT_DEADLINE_S
    max_frames: int = DEFAULT_MAX_FRAMES

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
            deadline_s=_number(settings, "video_deadline_s", DEFAULT_DEADLINE_S),
            max_frames=int(_number(settings, "video_max_frames", DEFAULT_MAX_FRAMES)),
        )


def _number(settings: ServerSettings, key: str, default: float) -> float:
    text = settings.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"setting {key}={text!r} is not a number") from None
    if not value > 0:
        raise InputError(f"setting {key}={text!r} must be > 0")
    return value


def video_admission(deadline_s: float, max_frames: int) -> Admission:
    """One video request at a time; the others wait while their expected wait is within the deadline
    (before the first measurement only a request with nothing ahead of it is let in)."""
    gate = AdmissionGate(deadline_s, name="video asks", cold_units=0, retry_after_s=1)
    return Admission(gate, concurrency=1, timeout_s=deadline_s)


@dataclass(frozen=True, slots=True)
class VideoState:
    """What the video routes use, loaded once at startup."""

    index: VideoIndex
    media_roots: tuple[Path, ...]
    recognizer: Recognizer | None = None
    reader: Reader | None = None
    deadline_s: float = DEFAULT_DEADLINE_S
    max_frames: int = DEFAULT_MAX_FRAMES
    admission: Admission = field(
        default_factory=lambda: video_admission(DEFAULT_DEADLINE_S, DEFAULT_MAX_FRAMES)
    )
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the server is told to stop: work in progress is abandoned at its next check."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (``time.monotonic()``) a video request is given up, or the server stopping sooner."""

    at: float
    budget_s: float
    stopping: threading.Event

    def check(self, stage: str) -> None:
        """OverloadedError (503) once the server is stopping or the deadline has passed."""
        if self.stopping.is_set():
            raise OverloadedError(f"server shutting down; {stage} abandoned, retry later")
        if time.monotonic() > self.at:
            raise OverloadedError(
                f"video request not answered within its deadline of {self.budget_s:g} s ({stage}); retry later"
            )


@dataclass(frozen=True, slots=True)
class DeadlineRecognizer:
    """A recogniser run ``RECOGNIZE_CHUNK`` frames at a time, with ``deadline.check`` before each."""

    inner: Recognizer
    deadline: Deadline

    @property
    def name(self) -> str:
        return self.inner.name

    def recognize(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        out: list[list[Detection]] = []
        for a in range(0, len(frames), RECOGNIZE_CHUNK):
            self.deadline.check("recognition")
            out.extend(self.inner.recognize(frames[a : a + RECOGNIZE_CHUNK]))
        return out


@dataclass(frozen=True, slots=True)
class DeadlineReader:
    """A reader that checks the deadline before it reads."""

    inner: Reader
    deadline: Deadline

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int = 1
    ) -> list[list[Answer]]:
        self.deadline.check("reading")
        return self.inner.read(questions, passages, top_n)


def load_state(
    vs: VideoSettings, reader: Reader | None, stopping: threading.Event | None = None
) -> VideoState:
    """Open the index (and the recogniser when ``vs.recognize``); ``reader`` is kept when ``vs.read``."""
    from drqa_ng.video.recognize import default_recognizer

    roots = tuple(r.resolve() for r in (vs.index, *vs.media_roots))
    recognizer = default_recognizer() if vs.recognize else None
    return VideoState(
        VideoIndex.open(vs.index),
        roots,
        recognizer,
        reader if vs.read else None,
        deadline_s=vs.deadline_s,
        max_frames=vs.max_frames,
        admission=video_admission(vs.deadline_s, vs.max_frames),
        stopping=stopping or threading.Event(),
    )


def setup(app: FastAPI, state: AppState) -> None:
    """Store the video state in ``app.state.video`` (no-op when no ``video_index`` is set)."""
    vs = VideoSettings.from_server(state.settings)
    if vs is not None:
        app.state.video = load_state(vs, state.shared_reader(), state.stopping)


def get_video(request: Request) -> VideoState:
    video: VideoState | None = getattr(request.app.state, "video", None)
    if video is None:
        raise NotFoundError("this server has no video index (set the video_index setting)")
    return video


Video = Annotated[VideoState, Depends(get_video)]


@router.post("/video/ask", response_model=VideoAskResponse)
async def video_ask(body: VideoAskRequest, video: Video) -> VideoAskResponse:
    """Admitted by expected wait, then run in a worker thread (decoding and recognition are CPU-bound)."""
    t0 = time.perf_counter()
    questions = body.as_list()
    recognizer = video.recognizer if body.recognize else None
    frames = len(questions) * body.k * body.frames_per_segment if recognizer is not None else 0
    if frames > video.max_frames:
        raise InputError(
            f"questions x k x frames_per_segment = {frames} frames to recognise is above this server's "
            f"limit of {video.max_frames}; ask for fewer segments or frames"
        )
    deadline = Deadline(time.monotonic() + video.deadline_s, video.deadline_s, video.stopping)
    units = len(questions) * body.k + frames  # segments read plus frames recognised
    results = await video.admission.run(_answer, video, questions, body, recognizer, deadline, units=units)
    return VideoAskResponse(
        results=[
            VideoQuestionAnswers(question=q, answers=[VideoAnswerOut.of(a) for a in ans])
            for q, ans in zip(questions, results, strict=True)
        ],
        latency_ms=(time.perf_counter() - t0) * 1000,
    )


def _answer(
    video: VideoState,
    questions: list[str],
    body: VideoAskRequest,
    recognizer: Recognizer | None,
    deadline: Deadline,
) -> list[list[VideoAnswer]]:
    deadline.check("waiting")
    return answer_questions(
        video.index,
        questions,
        k=body.k,
        recognizer=None if recognizer is None else DeadlineRecognizer(recognizer, deadline),
        reader=None if video.reader is None else DeadlineReader(video.reader, deadline),
        frames_per_segment=body.frames_per_segment,
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
    return MediaResponse(path, media_type=media_type, filename=path.name, content_disposition_type="inline")


class MediaResponse(FileResponse):
    """``FileResponse`` whose Range errors (400 malformed, 416 not satisfiable), which Starlette writes
    as text/plain, are sent in the app's ``{"detail", "error"}`` JSON shape (``Content-Range`` kept)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: dict[str, Any] = {}

        async def send_json_errors(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in RANGE_ERRORS:
                held.update(message)  # replaced, with its body, once the body comes
                return
            if held and message["type"] == "http.response.body":
                status = held["status"]
                error, what = RANGE_ERRORS[status]
                text = message.get("body", b"").decode("utf-8", "replace").strip()
                body = json.dumps({"detail": f"{what}: {text}" if text else what, "error": error}).encode()
                kept = [(k, v) for k, v in held.get("headers", []) if k.lower() == b"content-range"]
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": status, "headers": headers + kept})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await super().__call__(scope, receive, send_json_errors)
