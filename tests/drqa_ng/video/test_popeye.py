"""The public-domain Popeye clips in the shared data: SRT sidecars, image-only embedded subtitles, segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.video.segments import make_segments
from drqa_ng.video.subtitles import embedded_text_cues, find_sidecar, load_subtitles

pytestmark = pytest.mark.shared_data


def test_popeye_subtitles_and_segments(shared_data: Path) -> None:
    folder = shared_data / "video" / "popeye"
    if not folder.is_dir():
        pytest.skip("no video/popeye in the shared data")
    clip = folder / "popeye-p3.mkv"
    sidecar = find_sidecar(clip)
    assert sidecar == folder / "popeye-p3.srt"
    cues = load_subtitles(sidecar)
    assert len(cues) == 15 and any("Popeye" in c.text for c in cues)
    segs = make_segments("popeye-p3", cues, 60.0)
    assert all(s.t_end - s.t_start <= 32 for s in segs)
    assert any("P-P-Popeye" in s.text for s in segs)
    text_cues, image_codecs = embedded_text_cues(clip)
    assert text_cues == [] and image_codecs  # PGS only: needs OCR, so the sidecar is used
