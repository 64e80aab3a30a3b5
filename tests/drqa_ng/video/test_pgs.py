"""OCR of image-based (PGS) subtitle streams."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.video.pgs import bitmap_to_ink, ocr_image_subtitles


def test_bitmap_to_ink_takes_second_most_frequent_index_as_fill() -> None:
    idx = np.zeros((10, 20), np.uint8)  # background index 0
    idx[2:8, 2:18] = 7  # outline
    idx[3:7, 3:17] = 42  # fill: more pixels than the outline ring
    ink = bitmap_to_ink(idx)
    assert ink.dtype == np.uint8
    assert (ink[3:7, 3:17] == 0).all() and ink[0, 0] == 255 and ink[2, 2] == 255
    assert (bitmap_to_ink(np.zeros((4, 4), np.uint8)) == 255).all()


def test_no_image_stream_gives_no_cues(video_dir: Path) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed")
    assert ocr_image_subtitles(video_dir / "alpha.avi") == []


@pytest.mark.slow
@pytest.mark.shared_data
def test_popeye_pgs_ocr_matches_srt(shared_data: Path) -> None:
    from drqa_ng.evaluation.metrics import f1_score
    from drqa_ng.video.subtitles import load_subtitles

    folder = shared_data / "video" / "popeye"
    if not folder.is_dir() or shutil.which("tesseract") is None:
        pytest.skip("needs video/popeye and tesseract")
    ocr = ocr_image_subtitles(folder / "popeye-p4.mkv")
    srt = load_subtitles(folder / "popeye-p4.srt")
    assert len(ocr) >= len(srt) // 2
    assert f1_score(" ".join(c.text for c in ocr), [" ".join(c.text for c in srt)]) > 0.7
