"""VideoManifest owns the video index's manifest.json: reads what the builder always wrote, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.index_io import write_manifest
from drqa_ng.video.manifest import VideoManifest

OLD_VIDEO_FIELDS = {  # what indexing.video wrote before the typed manifest (format 1)
    "params": {
        "fps": 1.0,
        "min_seg": 10.0,
        "max_seg": 30.0,
        "overlap": 2.0,
        "tags": ["face", "text"],
        "tag_threshold": 0.5,
        "label_fraction": None,
    },
    "counts": {
        "videos": 2,
        "segments": 9,
        "frames": 40,
        "frames_decoded": 44,
        "frames_tagged": 40,
        "frames_teacher": 0,
    },
    "timings": {
        "decode_s": 0.1,
        "teacher_s": 0.0,
        "train_s": 0.0,
        "tag_s": 0.02,
        "index_s": 0.3,
        "total_s": 0.5,
    },
    "corpus_hash": "abc",
}


def test_reads_and_rewrites_the_old_bytes(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    write_manifest(tmp_path / "old", "video", 1, **OLD_VIDEO_FIELDS)
    m = VideoManifest.load(tmp_path / "old")
    assert m.params.tags == ("face", "text") and m.params.label_fraction is None and m.counts.segments == 9
    (tmp_path / "new").mkdir()
    m.save(tmp_path / "new")
    assert (tmp_path / "new" / "manifest.json").read_bytes() == (
        tmp_path / "old" / "manifest.json"
    ).read_bytes()
    assert VideoManifest.load(tmp_path / "new") == m


def test_built_index_round_trips(video_index_dir: Path, tmp_path: Path) -> None:
    m = VideoManifest.load(video_index_dir)
    assert m.counts.segments >= 4 and m.params.label_fraction is not None
    m.save(tmp_path)
    assert (tmp_path / "manifest.json").read_bytes() == (video_index_dir / "manifest.json").read_bytes()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "sparse"}, "expected 'video'"),
        ({"format_version": 2}, "version 2"),
        ({"counts": {"videos": 2, "frames": 40}}, "lacks 'segments'"),
        ({"params": {**OLD_VIDEO_FIELDS["params"], "tags": "face"}}, "not a list"),  # type: ignore[dict-item]
        ({"params": {**OLD_VIDEO_FIELDS["params"], "fps": "fast"}}, "not a number"),  # type: ignore[dict-item]
    ],
)
def test_refuses_bad_fields(tmp_path: Path, change: dict[str, object], match: str) -> None:
    data = {"kind": "video", "format_version": 1, **OLD_VIDEO_FIELDS, **change}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match=match):
        VideoManifest.load(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        VideoManifest.load(tmp_path / "none")
