"""Segment cutting: cue merging within bounds, overlap, coverage, fixed windows, links."""

from __future__ import annotations

import itertools

import pytest

from drqa_ng.errors import InputError
from drqa_ng.video.segments import cue_windows, fixed_windows, make_segments, segment_id, timestamp_link
from drqa_ng.video.subtitles import Cue


def _cues(n: int, every: float = 2.0, length: float = 1.8) -> list[Cue]:
    return [Cue(i * every, i * every + length, f"line {i}") for i in range(n)]


def test_windows_cover_timeline_within_bounds_and_overlap() -> None:
    cues = _cues(40)  # 80 s of speech
    wins = cue_windows(cues, 90.0, min_seg=10, max_seg=30, overlap=2)
    assert wins[0].t_start == 0.0 and wins[-1].t_end == pytest.approx(90.0)
    for a, b in itertools.pairwise(wins):
        assert b.t_start <= a.t_end  # no holes
        assert a.t_end - b.t_start <= 2.0 + 1e-6 or b.cue_lo < a.cue_hi
    for w in wins[:-1]:
        assert w.t_end - w.t_start <= 30 + 2 + 1e-6
    # every cue is in some window
    covered = {i for w in wins for i in range(w.cue_lo, w.cue_hi)}
    assert covered == set(range(40))


def test_long_silence_gets_fixed_windows() -> None:
    cues = [Cue(0, 5, "start"), Cue(100, 105, "end")]
    wins = cue_windows(cues, 110, min_seg=10, max_seg=30, overlap=2)
    fillers = [w for w in wins if w.cue_hi == w.cue_lo]
    assert fillers and all(w.t_end - w.t_start <= 32 for w in fillers)
    assert max(w.t_end for w in wins) == pytest.approx(110)


def test_segments_ids_and_text() -> None:
    segs = make_segments("vid", _cues(3), 8.0, min_seg=3, max_seg=6, overlap=1)
    assert segs[0].id == segment_id("vid", 0) == "vid#s0"
    assert segs[0].text.startswith("line 0")
    assert all(s.video_id == "vid" for s in segs)


def test_no_cues_gives_fixed_windows_with_empty_text() -> None:
    segs = make_segments("v", [], 45.0, min_seg=10, max_seg=30, overlap=2)
    assert [(s.t_start, s.t_end) for s in segs] == [(0.0, 22.5), (20.5, 45.0)]
    assert all(s.text == "" for s in segs)


def test_fixed_windows_empty_range() -> None:
    assert fixed_windows(5.0, 5.0, 10.0) == []


@pytest.mark.parametrize(("mn", "mx", "ov"), [(0, 10, 1), (20, 10, 1), (10, 30, 10), (10, 30, -1)])
def test_bad_params(mn: float, mx: float, ov: float) -> None:
    with pytest.raises(InputError):
        make_segments("v", [], 10.0, min_seg=mn, max_seg=mx, overlap=ov)


def test_timestamp_link() -> None:
    assert timestamp_link("file.mkv", 12.5, 31.0) == "file.mkv#t=12.5,31.0"
