"""Cut a video's timeline into retrievable, time-aligned segments.

Subtitle cues are merged greedily into windows of ``min_seg``..``max_seg`` seconds, consecutive
windows share cues that start within ``overlap`` seconds of the previous window's end, and the
stretches no cue covers are filled with fixed windows (tag-only text), so every sampled frame lies
in at least one segment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from drqa_ng.errors import InputError
from drqa_ng.video.subtitles import Cue

SEGMENT_SEP = "#s"
PAUSE = 1.5
"""Seconds of silence at which a window that is already ``min_seg`` long closes."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A time range of one video and the subtitle text spoken in it (``text`` may be empty)."""

    id: str
    video_id: str
    t_start: float
    t_end: float
    text: str


@dataclass(frozen=True, slots=True)
class Window:
    """A time range plus the indices of the cues inside it (``cue_lo`` .. ``cue_hi`` exclusive)."""

    t_start: float
    t_end: float
    cue_lo: int
    cue_hi: int


def segment_id(video_id: str, i: int) -> str:
    """``f"{video_id}#s{i}"``: segment ids follow the project's unit-id convention."""
    return f"{video_id}{SEGMENT_SEP}{i}"


def check_params(min_seg: float, max_seg: float, overlap: float) -> None:
    """Raise InputError unless 0 < min_seg <= max_seg and 0 <= overlap < min_seg."""
    if not 0 < min_seg <= max_seg:
        raise InputError(f"need 0 < --min-seg ({min_seg}) <= --max-seg ({max_seg})")
    if not 0 <= overlap < min_seg:
        raise InputError(f"need 0 <= --overlap ({overlap}) < --min-seg ({min_seg})")


def fixed_windows(t0: float, t1: float, max_seg: float, overlap: float = 0.0) -> list[Window]:
    """Split ``[t0, t1)`` into equal windows no longer than ``max_seg``, each reaching ``overlap`` s back."""
    length = t1 - t0
    if length <= 0:
        return []
    n = max(1, math.ceil(length / max_seg - 1e-9))
    step = length / n
    return [Window(max(0.0, t0 + i * step - overlap), t0 + (i + 1) * step, 0, 0) for i in range(n)]


def cue_windows(
    cues: Sequence[Cue],
    duration: float,
    *,
    min_seg: float = 10.0,
    max_seg: float = 30.0,
    overlap: float = 2.0,
) -> list[Window]:
    """Merge sorted cues into windows covering ``[0, duration)``.

    A window grows cue by cue; it closes once it is at least ``min_seg`` long and the next cue
    would push it past ``max_seg`` or starts after a pause of ``PAUSE`` seconds or more. The
    next window starts from the first cue beginning within ``overlap`` seconds of the close (so
    cues near a boundary are in both). Uncovered gaps are absorbed into a neighbour when that
    keeps it within ``max_seg``, else filled with fixed windows.
    """
    check_params(min_seg, max_seg, overlap)
    duration = max(duration, cues[-1].end if cues else 0.0)
    cue_based: list[Window] = []
    i, n = 0, len(cues)
    while i < n:
        start = cues[i].start
        j = i
        while j + 1 < n:
            nxt = cues[j + 1]
            if nxt.end - start > max_seg:
                break
            if cues[j].end - start >= min_seg and nxt.start - cues[j].end >= PAUSE:
                break
            j += 1
        end = max(c.end for c in cues[i : j + 1])
        cue_based.append(Window(start, end, i, j + 1))
        if j + 1 >= n:
            break
        k = next((k for k in range(i + 1, j + 1) if cues[k].start >= end - overlap), j + 1)
        i = k
    # Fill the timeline: a window reaches back ``overlap`` seconds into its predecessor and absorbs
    # the silence before it when that keeps it within max_seg + overlap; long silences get fixed windows.
    out: list[Window] = []
    cursor = 0.0
    for w in cue_based:
        lead = max(0.0, cursor - overlap) if out else 0.0
        if w.t_start > lead:
            if w.t_end - lead <= max_seg + overlap:
                w = Window(lead, w.t_end, w.cue_lo, w.cue_hi)
            else:
                out.extend(fixed_windows(cursor, w.t_start, max_seg, overlap))
                w = Window(max(0.0, w.t_start - overlap), w.t_end, w.cue_lo, w.cue_hi)
        out.append(w)
        cursor = max(cursor, w.t_end)
    if duration > cursor:
        if out and duration - out[-1].t_start <= max_seg + overlap:
            last = out[-1]
            out[-1] = Window(last.t_start, duration, last.cue_lo, last.cue_hi)
        else:
            out.extend(fixed_windows(cursor, duration, max_seg, overlap))
    return out


def make_segments(
    video_id: str,
    cues: Sequence[Cue],
    duration: float,
    *,
    min_seg: float = 10.0,
    max_seg: float = 30.0,
    overlap: float = 2.0,
) -> list[Segment]:
    """Segments of one video: cue-merged windows when there are cues, fixed windows (empty text) otherwise."""
    check_params(min_seg, max_seg, overlap)
    if cues:
        windows = cue_windows(cues, duration, min_seg=min_seg, max_seg=max_seg, overlap=overlap)
    else:
        windows = fixed_windows(0.0, duration, max_seg, overlap)
    return [
        Segment(
            id=segment_id(video_id, i),
            video_id=video_id,
            t_start=round(w.t_start, 3),
            t_end=round(w.t_end, 3),
            text=" ".join(c.text for c in cues[w.cue_lo : w.cue_hi]),
        )
        for i, w in enumerate(windows)
    ]


def timestamp_link(video_name: str, t_start: float, t_end: float) -> str:
    """A W3C media-fragment link to the range: ``"file.mkv#t=12.5,31.0"``."""
    return f"{video_name}#t={t_start:.1f},{t_end:.1f}"
