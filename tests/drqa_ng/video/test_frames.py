"""Decoding: probe, sampling at a rate, frames at given times, unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, NotFoundError, UnsupportedError
from drqa_ng.video.frames import FrameSampler, frames_at, probe
from tests.fixtures.video import VIDEO_FPS, seconds_of


def test_probe(video_dir: Path) -> None:
    info = probe(video_dir / "alpha.avi")
    assert info.duration == pytest.approx(10.0, abs=0.3)
    assert info.fps == pytest.approx(VIDEO_FPS)
    assert (info.width, info.height) == (160, 120)


def test_sampler_one_frame_per_second(video_dir: Path) -> None:
    s = FrameSampler(video_dir / "beta.avi", fps=1.0)
    frames = list(s)
    assert [f.t for f in frames] == [float(i) for i in range(9)]
    assert [seconds_of(f.image) for f in frames] == list(range(9))
    assert s.decoded == 9 * VIDEO_FPS and s.sampled == 9
    assert len(list(FrameSampler(video_dir / "beta.avi", fps=2.0))) == 18


def test_frames_at_any_order(video_dir: Path) -> None:
    imgs, decoded = frames_at(video_dir / "alpha.avi", [7.0, 2.0, 2.0, 9.0])
    assert [seconds_of(i) for i in imgs] == [7, 2, 2, 9]
    assert 4 <= decoded <= 10 * VIDEO_FPS


def test_unreadable_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"RIFF\x00\x00garbage" * 50)
    with pytest.raises((DataFormatError, UnsupportedError)):
        probe(bad)
    with pytest.raises(NotFoundError):
        probe(tmp_path / "missing.mp4")
    audio_only = tmp_path / "x.srt"
    audio_only.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    with pytest.raises((DataFormatError, UnsupportedError)):
        probe(audio_only)
