"""Heavy recognisers: label vectors, composition, OCR and Haar on rendered frames, optional classifier."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import UnsupportedError
from drqa_ng.video.recognize import (
    ClassifierRecognizer,
    CompositeRecognizer,
    Detection,
    HaarRecognizer,
    OcrRecognizer,
    Recognizer,
    labels_of,
)
from tests.fixtures.video import CountingRecognizer


def test_labels_of() -> None:
    dets = [Detection("text", 0.9, (0, 0, 1, 1), "HI"), Detection("face", 0.8, (0, 0, 1, 1))]
    assert labels_of(dets, ("face", "person", "text")).tolist() == [1.0, 0.0, 1.0]


def test_composite_concatenates_per_frame() -> None:
    a, b = CountingRecognizer(), CountingRecognizer()
    comp = CompositeRecognizer([a, b])
    assert isinstance(comp, Recognizer)
    frames = [np.zeros((60, 160, 3), np.uint8), np.full((60, 160, 3), 255, np.uint8)]
    out = comp.recognize(frames)
    assert len(out) == 2 and a.calls == b.calls == 1
    assert comp.name == "counting+counting"


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_ocr_reads_rendered_text() -> None:
    import cv2

    img = np.full((120, 520, 3), 255, np.uint8)
    cv2.putText(img, "LIGHTHOUSE KEEPER", (10, 75), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 3)
    (dets,) = OcrRecognizer().recognize([img])
    assert any("LIGHTHOUSE" in d.text for d in dets)
    assert all(d.label == "text" and 0 <= d.score <= 1 for d in dets)


def test_haar_runs_and_finds_nothing_on_blank() -> None:
    (dets,) = HaarRecognizer().recognize([np.full((240, 320, 3), 128, np.uint8)])
    assert dets == []


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
def test_classifier_without_torchvision_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="torchvision"):
        ClassifierRecognizer("mobilenet_v3_small", tmp_path / "w.safetensors", tmp_path / "labels.txt")
