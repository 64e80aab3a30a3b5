"""Question answering over a video index, as stages after retrieval.

Per batch of questions: **retrieve** the top ``k`` segment passages (``VideoIndex.search``, the same
``Retriever`` protocol as sparse/dense) -> **recognise**: choose up to ``frames_per_segment``
sampled frames of each retrieved segment (``select_frames``: the tiny tagger's scores pick them),
decode just those frames and run the heavy recogniser once on them -> **read** (optional): the
reader's best span over each segment's subtitles plus any OCR text found -> **assemble** one
``VideoAnswer`` per segment with a ``VideoAccounting`` of the work done.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.protocols import Reader
from drqa_ng.request import DEFAULT_VIDEO_K, Limits, check_request
from drqa_ng.types import Answer, Hit, Passage
from drqa_ng.video.answers import FrameFindings, VideoAccounting, VideoAnswer
from drqa_ng.video.frames import frames_at
from drqa_ng.video.recognize import Detection, Recognizer
from drqa_ng.video.segments import timestamp_link
from drqa_ng.video.tagger import TAG_WORDS

if TYPE_CHECKING:
    from drqa_ng.video.index import VideoIndex

MAX_K = 100
VIDEO_LIMITS = Limits(k=MAX_K)
"""The request limits of video QA: those of ``drqa_ng.request`` with at most MAX_K segments a question
(each is decoded and recognised)."""


@dataclass(frozen=True, slots=True)
class Retrieved:
    """One question's retrieved segments: the hits, best first, and their index rows."""

    hits: tuple[Hit, ...]
    rows: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the recognition stage did for one question: the frame rows chosen per segment row, what the
    recogniser found in each (by frame row), frames decoded and the stage's wall times."""

    chosen: dict[int, tuple[int, ...]]
    found: dict[int, tuple[Detection, ...]]
    decoded: int = 0
    decode_s: float = 0.0
    recognize_s: float = 0.0


def select_frames(probs: np.ndarray, question: str, tags: Sequence[str], n: int) -> list[int]:
    """Indices (time order) of the ``n`` frames of a segment most worth the heavy recogniser.

    A frame's score is its tiny-CNN probability for the tags the question names (by tag name or
    ``TAG_WORDS``), or its highest tag probability when it names none; ties go to frames nearer
    the segment's middle, so an untagged segment is still looked at in its centre.
    """
    m = len(probs)
    if m == 0 or n <= 0:
        return []
    words = set(question.lower().replace("?", " ").split())
    named = [i for i, t in enumerate(tags) if t in words or words & set(TAG_WORDS.get(t, "").split())]
    score = probs[:, named].max(axis=1) if named else (probs.max(axis=1) if probs.shape[1] else np.zeros(m))
    mid = (m - 1) / 2
    order = sorted(range(m), key=lambda i: (-round(float(score[i]), 3), abs(i - mid), i))
    return sorted(order[:n])


def check_ask(
    questions: Sequence[str], k: int, frames_per_segment: int, limits: Limits = VIDEO_LIMITS
) -> list[str]:
    """The questions stripped and checked by the one request contract (``drqa_ng.request.check_request``
    with ``limits``, at most MAX_K segments); InputError also unless ``frames_per_segment >= 0``."""
    qs = check_request(questions, k=k, limits=limits.within(VIDEO_LIMITS)).questions
    if frames_per_segment < 0:
        raise InputError("frames_per_segment must be >= 0")
    return list(qs)


def retrieve(index: VideoIndex, questions: Sequence[str], k: int) -> list[Retrieved]:
    """Stage 1: the top ``k`` segments of each question."""
    return [
        Retrieved(tuple(hits), tuple(index.segment_row(h.id) for h in hits))
        for hits in index.search(questions, k)
    ]


def choose_frames(
    index: VideoIndex, question: str, rows: Sequence[int], frames_per_segment: int
) -> dict[int, tuple[int, ...]]:
    """Frame rows worth recognising in each segment row (``select_frames`` over its frames' tag scores)."""
    chosen: dict[int, tuple[int, ...]] = {}
    for r in rows:
        frames = index.segment_frames(r)
        probs = np.asarray(index.frame_tags[frames.start : frames.stop], dtype=np.float32)
        picked = select_frames(probs, question, index.tags, frames_per_segment)
        chosen[r] = tuple(frames.start + i for i in picked)
    return chosen


def decode_and_recognize(index: VideoIndex, frame_rows: Sequence[int], recognizer: Recognizer) -> Recognition:
    """Decode the given frame rows (grouped by video) and run the recogniser once on all of them."""
    t0 = time.perf_counter()
    images: list[np.ndarray] = []
    order: list[int] = []
    decoded = 0
    for vi in sorted({index.frame_video(r) for r in frame_rows}):
        rows = [r for r in frame_rows if index.frame_video(r) == vi]
        imgs, n = frames_at(index.video_path(vi), [index.frame_time(r) for r in rows])
        images.extend(imgs)
        order.extend(rows)
        decoded += n
    decode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dets = recognizer.recognize(images) if images else []
    recognize_s = time.perf_counter() - t0
    if len(dets) != len(images):
        raise ValueError(
            f"recogniser {recognizer.name} returned {len(dets)} results for {len(images)} frames"
        )
    found = {r: tuple(d) for r, d in zip(order, dets, strict=True)}
    return Recognition({}, found, decoded, decode_s, recognize_s)


def recognize(
    index: VideoIndex,
    question: str,
    retrieved: Retrieved,
    recognizer: Recognizer | None,
    frames_per_segment: int,
) -> Recognition:
    """Stage 2: heavy recognition on a few chosen frames of the retrieved segments only
    (nothing decoded without a ``recognizer``)."""
    if recognizer is None:
        return Recognition({r: () for r in retrieved.rows}, {})
    chosen = choose_frames(index, question, retrieved.rows, frames_per_segment)
    unique = sorted({f for fs in chosen.values() for f in fs})
    if not unique:
        return Recognition(chosen, {})
    return replace(decode_and_recognize(index, unique, recognizer), chosen=chosen)


def reader_passage(index: VideoIndex, row: int, rec: Recognition) -> Passage:
    """The segment's passage with any OCR text its recognised frames showed appended."""
    p = index.segment_passage(row)
    ocr = [d.text for f in rec.chosen.get(row, ()) for d in rec.found.get(f, ()) if d.text]
    text = " ".join([p.text, *dict.fromkeys(ocr)]).strip()
    return replace(p, text=text, end=len(text))


def read(
    index: VideoIndex,
    questions: Sequence[str],
    retrieved: Sequence[Retrieved],
    recognitions: Sequence[Recognition],
    reader: Reader,
    k: int,
) -> list[dict[str, Answer]]:
    """Stage 3: each question's best reader span per segment id."""
    passages = [
        [reader_passage(index, r, rec) for r in ret.rows]
        for ret, rec in zip(retrieved, recognitions, strict=True)
    ]
    spans: list[dict[str, Answer]] = [{} for _ in questions]
    for qi, answers in enumerate(reader.read(list(questions), passages, top_n=max(1, k))):
        for a in answers:
            spans[qi].setdefault(a.passage.id, a)
    return spans


def assemble(
    index: VideoIndex,
    retrieved: Retrieved,
    rec: Recognition,
    spans: dict[str, Answer],
    accounting: VideoAccounting,
) -> list[VideoAnswer]:
    """Stage 4: one ``VideoAnswer`` per retrieved segment, best first."""
    out: list[VideoAnswer] = []
    for h, r in zip(retrieved.hits, retrieved.rows, strict=True):
        v = index.segment_video(r)
        t_start, t_end = index.segment_time(r)
        findings = tuple(
            FrameFindings(v.id, round(index.frame_time(f), 3), rec.found.get(f, ())) for f in rec.chosen[r]
        )
        out.append(
            VideoAnswer(
                video_id=v.id,
                video_path=v.path,
                segment_id=h.id,
                t_start=t_start,
                t_end=t_end,
                link=timestamp_link(v.name, t_start, t_end),
                text=index.segment_passage(r).text,
                tags=index.segment_tags(r),
                score=h.score,
                findings=findings,
                span=spans.get(h.id),
                accounting=accounting,
            )
        )
    return out


def answer_questions(
    index: VideoIndex,
    questions: Sequence[str],
    k: int = DEFAULT_VIDEO_K,
    *,
    recognizer: Recognizer | None = None,
    reader: Reader | None = None,
    frames_per_segment: int = 2,
) -> list[list[VideoAnswer]]:
    """Answer each question with its top ``k`` segments, best first (the stages above in order).

    Retrieval and reading times are per question (batch time / batch size).
    """
    questions = check_ask(questions, k, frames_per_segment)
    if not questions:
        return []
    t0 = time.perf_counter()
    retrieved = retrieve(index, questions, k)
    retrieve_s = (time.perf_counter() - t0) / len(questions)
    recognitions = [
        recognize(index, q, ret, recognizer, frames_per_segment)
        for q, ret in zip(questions, retrieved, strict=True)
    ]
    spans: list[dict[str, Answer]] = [{} for _ in questions]
    read_s = 0.0
    if reader is not None:
        t0 = time.perf_counter()
        spans = read(index, questions, retrieved, recognitions, reader, k)
        read_s = (time.perf_counter() - t0) / len(questions)
    out: list[list[VideoAnswer]] = []
    for ret, rec, sp in zip(retrieved, recognitions, spans, strict=True):
        total = retrieve_s + rec.decode_s + rec.recognize_s + read_s
        acc = index.accounting(
            frames_decoded=rec.decoded,
            frames_heavy=len(rec.found),
            retrieve_s=round(retrieve_s, 4),
            decode_s=round(rec.decode_s, 4),
            recognize_s=round(rec.recognize_s, 4),
            read_s=round(read_s, 4),
            total_s=round(total, 4),
        )
        out.append(assemble(index, ret, rec, sp, acc))
    return out
