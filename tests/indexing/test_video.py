"""build_video_index: layout, segments for each subtitle source, tags in text, errors, atomicity."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import DataFormatError, InputError, NotFoundError, UnsupportedError
from drqa_ng.index_io import StringArray, read_manifest
from drqa_ng.video.tagger import TinyTagger
from indexing.video import build_video_index, segment_tag_tokens
from tests.fixtures.video import CountingRecognizer


def test_layout_and_counts(video_index_dir: Path) -> None:
    m = read_manifest(video_index_dir, kind="video", version=1)
    assert m["counts"]["videos"] == 3
    assert m["counts"]["frames"] == 10 + 9 + 6 == m["counts"]["frames_tagged"]
    assert m["counts"]["frames_decoded"] == 5 * 25
    assert 0 < m["counts"]["frames_teacher"] <= 13
    videos = json.loads((video_index_dir / "videos.json").read_text())
    assert [v["subtitles"] for v in videos] == ["sidecar:alpha.srt", "sidecar:beta.vtt", "none"]
    assert all(len(v["sha256"]) == 64 for v in videos)
    ids = list(StringArray.open(video_index_dir, "seg_ids"))
    assert ids[0] == "alpha#s0" and any(i.startswith("silent#s") for i in ids)
    seg_time = np.load(video_index_dir / "seg_time.npy")
    seg_frames = np.load(video_index_dir / "seg_frames.npy")
    frame_time = np.load(video_index_dir / "frame_time.npy")
    assert (seg_time[:, 1] > seg_time[:, 0]).all()
    for (t0, t1), (lo, hi) in zip(seg_time, seg_frames, strict=True):
        assert hi > lo and all(t0 - 1e-3 <= frame_time[r] < t1 for r in range(lo, hi))
    assert np.load(video_index_dir / "frame_tags.npy").shape == (25, 3)
    assert (video_index_dir / "tagger.safetensors").is_file()
    assert (video_index_dir / "sparse" / "manifest.json").is_file()


def test_given_tagger_skips_teacher(video_dir: Path, tmp_path: Path) -> None:
    rec = CountingRecognizer()
    r = build_video_index(
        [video_dir / "silent.avi"],
        tmp_path / "i",
        tagger=TinyTagger(),
        teacher=rec,
        min_seg=3,
        max_seg=6,
        overlap=1,
    )
    assert rec.calls == 0 and r.frames_teacher == 0 and r.frames_tagged == 6
    assert r.segments == 1


def test_no_subtitles_warns(video_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        build_video_index(
            [video_dir / "silent.avi"], tmp_path / "i", tagger=TinyTagger(), max_seg=4, min_seg=2, overlap=0
        )
    assert "no subtitles" in caplog.text
    texts = list(StringArray.open(tmp_path / "i", "seg_subs"))
    assert len(texts) == 2 and texts == ["", ""]


def test_tag_tokens() -> None:
    probs = np.array([[0.9, 0.1, 0.2], [0.3, 0.2, 0.7]], np.float32)
    assert segment_tag_tokens(probs, ("face", "person", "text"), 0.5) == "tag_face face tag_text text writing"
    assert segment_tag_tokens(probs[:0], ("face", "person", "text"), 0.5) == ""


def test_corrupt_video_writes_nothing(video_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"\x00garbage" * 100)
    out = tmp_path / "out"
    with pytest.raises((DataFormatError, UnsupportedError)):
        build_video_index([video_dir / "silent.avi", bad], out, tagger=TinyTagger())
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_bad_arguments(video_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        build_video_index([tmp_path / "missing.mp4"], tmp_path / "o", tagger=TinyTagger())
    with pytest.raises(InputError):
        build_video_index([], tmp_path / "o")
    with pytest.raises(InputError):
        build_video_index([video_dir / "silent.avi"], tmp_path / "o", fps=0, tagger=TinyTagger())
    with pytest.raises(InputError):
        build_video_index(
            [video_dir / "silent.avi"], tmp_path / "o", min_seg=20, max_seg=10, tagger=TinyTagger()
        )


def test_embedded_text_subtitles_are_used(tmp_path: Path) -> None:
    from tests.fixtures.video import write_embedded_video

    video = write_embedded_video(tmp_path / "emb.mkv", [(0.2, 1.8, "The ferry leaves at dawn")], seconds=3)
    build_video_index([video], tmp_path / "i", tagger=TinyTagger(), min_seg=1, max_seg=3, overlap=0)
    videos = json.loads((tmp_path / "i" / "videos.json").read_text())
    assert videos[0]["subtitles"] == "embedded" and videos[0]["cues"] == 1
    assert "ferry leaves at dawn" in StringArray.open(tmp_path / "i", "seg_subs")[0]
