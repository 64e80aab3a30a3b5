"""What ``drqa_ng.video.qa.answer_questions`` returns: answers with findings and the accounting of the work done."""

from __future__ import annotations

from dataclasses import dataclass

from drqa_ng.types import Answer
from drqa_ng.video.recognize import Detection


@dataclass(frozen=True, slots=True)
class FrameFindings:
    """What the heavy recogniser found in one frame (``t`` seconds into ``video_id``)."""

    video_id: str
    t: float
    detections: tuple[Detection, ...]


@dataclass(frozen=True, slots=True)
class VideoAccounting:
    """Work behind one question's answers.

    Query-time (this question): ``frames_decoded`` (every frame the decoder produced while
    seeking to the chosen frames), ``frames_heavy`` (frames given to the heavy recogniser) and
    the wall time of each stage. Index-time (whole index, shared by all questions):
    ``index_frames_decoded``, ``index_frames_sampled``, ``index_frames_tagged`` (by the tiny CNN),
    ``index_frames_teacher`` (labelled by the heavy recogniser for distillation) and stage times.
    """

    frames_decoded: int
    frames_heavy: int
    retrieve_s: float
    decode_s: float
    recognize_s: float
    read_s: float
    total_s: float
    index_frames_decoded: int
    index_frames_sampled: int
    index_frames_tagged: int
    index_frames_teacher: int
    index_decode_s: float
    index_teacher_s: float
    index_train_s: float
    index_tag_s: float


@dataclass(frozen=True, slots=True)
class VideoAnswer:
    """One retrieved segment as an answer: where (video, time range, link), what is said there
    (``text``, the subtitles), its tags, what the recogniser found, and the reader's span if any."""

    video_id: str
    video_path: str
    segment_id: str
    t_start: float
    t_end: float
    link: str
    text: str
    tags: tuple[str, ...]
    score: float
    findings: tuple[FrameFindings, ...]
    span: Answer | None
    accounting: VideoAccounting
