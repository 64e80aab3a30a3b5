"""distil_tagger: the teacher labels only a fraction of the sampled frames (moved from test_video.py)."""

from __future__ import annotations

from pathlib import Path

from drqa_ng.video.tagger import save_tagger
from indexing.video_tagger import distil_tagger
from tests.fixtures.video import CountingRecognizer


def test_distil_tagger_uses_a_fraction(video_dir: Path, tmp_path: Path) -> None:
    rec = CountingRecognizer()
    model, r = distil_tagger([video_dir / "beta.avi"], label_fraction=0.34, teacher=rec, epochs=2)
    assert (
        r.frames_sampled == 9 and r.frames_teacher == 3 and rec.seconds is not None and len(rec.seconds) == 3
    )
    save_tagger(model, tmp_path / "t.safetensors")
    assert (tmp_path / "t.safetensors").stat().st_size < 2_000_000
