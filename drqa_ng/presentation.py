"""One presentation of answers for every surface: the CLI's JSON lines, the HTTP API and the web page.

``answer_dict`` is the only place an ``Answer`` becomes plain JSON values; ``result_dict`` adds the
question, the abstention flag and, when asked for, the passages read (``passage_dict``). ``hit_dict`` / ``hits_dict`` do the same for retrieved units
(``search``), ``video_answer_dict`` / ``video_result_dict`` for video answers (``video-ask`` and
``/v1/video/ask``). ``serving.schemas`` validates these dicts into its pydantic models, so the CLI and HTTP
field names cannot drift apart. The CLI's ``--json`` prints one such object a line (JSON Lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from drqa_ng.pipeline import Evidence, SearchHit
from drqa_ng.types import Answer

if TYPE_CHECKING:
    from drqa_ng.video.answers import VideoAnswer

NO_CONFIDENT_ANSWER = "no confident answer"


def answer_dict(a: Answer) -> dict[str, Any]:
    """Every number of an answer: calibrated ``confidence``, raw scores, support and the evidence passage."""
    support = a.support
    return {
        "text": a.text,
        "confidence": a.confidence,
        "score": a.score,
        "reader_score": a.reader_score,
        "retriever_score": a.retriever_score,
        "retriever_raw": a.retriever_raw,
        "retriever_rank": a.retriever_rank,
        "span_prob": a.span_prob,
        "support": {
            "count": support.count if support is not None else 1,
            "passage_ids": list(support.passage_ids) if support is not None else [a.passage.id],
        },
        "doc_id": a.passage.doc_id,
        "title": a.passage.title,
        "passage_id": a.passage.id,
        "start": a.start,
        "end": a.end,
        "passage_text": a.passage.text,
    }


def result_dict(
    question: str, answers: Sequence[Answer], abstained: bool, passages: Sequence[Evidence] = ()
) -> dict[str, Any]:
    """A question's answers; ``abstained`` means "no confident answer" (the answers are still listed);
    ``passages``: the passages read that were asked for, best first, as ``passage_dict`` (empty: none)."""
    return {
        "question": question,
        "abstained": abstained,
        "answers": [answer_dict(a) for a in answers],
        "passages": [passage_dict(e) for e in passages],
    }


def video_span_dict(a: VideoAnswer) -> dict[str, Any] | None:
    """A video answer's reader span as ``answer_dict`` gives it, plus the segment's ``t_start``/``t_end``
    (``None`` without a span)."""
    if a.span is None:
        return None
    return {**answer_dict(a.span), "t_start": a.t_start, "t_end": a.t_end}


def video_answer_dict(a: VideoAnswer) -> dict[str, Any]:
    """A video answer: where (video, segment, time range, ``link``), what is said there (``text``), its
    tags and retrieval score, the reader's span (``answer`` is its text), what the recogniser saw in
    each recognised frame and the work done (``accounting``). No server file path."""
    return {
        "video_id": a.video_id,
        "segment_id": a.segment_id,
        "t_start": a.t_start,
        "t_end": a.t_end,
        "link": a.link,
        "text": a.text,
        "tags": list(a.tags),
        "score": a.score,
        "answer": a.span.text if a.span is not None else None,
        "span": video_span_dict(a),
        "frames": [
            {
                "t": f.t,
                "detections": [
                    {"label": d.label, "score": d.score, "box": list(d.box), "text": d.text}
                    for d in f.detections
                ],
            }
            for f in a.findings
        ],
        "accounting": asdict(a.accounting),
    }


def video_result_dict(question: str, answers: Sequence[VideoAnswer]) -> dict[str, Any]:
    """A question's video answers, best first."""
    return {"question": question, "answers": [video_answer_dict(a) for a in answers]}


def hit_dict(h: SearchHit) -> dict[str, Any]:
    """A retrieved unit: rank, raw retriever score, ids, and title/text when the doc store had it."""
    row: dict[str, Any] = {"rank": h.rank, "score": h.hit.score, "id": h.hit.id, "doc_id": h.hit.doc_id}
    if h.passage is not None:
        row |= {"title": h.passage.title, "text": h.passage.text}
    return row


def passage_dict(e: Evidence) -> dict[str, Any]:
    """A passage the reader read: ids, title, text and its 1-based rank in the retriever's list (the
    pipeline returns passages ordered by what the reader found in them, ``pipeline.evidence_order``)."""
    p = e.passage
    return {
        "passage_id": p.id,
        "doc_id": p.doc_id,
        "title": p.title,
        "retriever_rank": e.rank + 1,
        "text": p.text,
    }


def hits_dict(query: str, hits: Sequence[SearchHit]) -> dict[str, Any]:
    """A query's hits, best first."""
    return {"query": query, "hits": [hit_dict(h) for h in hits]}


def percent(confidence: float | None) -> str:
    """``0.834`` → ``"83%"``; ``None`` → ``"n/a"``."""
    return "n/a" if confidence is None else f"{100.0 * confidence:.0f}%"


def confidence_bar(confidence: float | None, width: int = 10) -> str:
    """A text bar of ``width`` cells, e.g. ``"########.."`` for 0.8."""
    filled = 0 if confidence is None else round(min(max(confidence, 0.0), 1.0) * width)
    return "#" * filled + "." * (width - filled)
