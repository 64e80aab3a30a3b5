"""Distil the tiny frame tagger from the heavy recogniser (``drqa-ng train-tagger``, and stage 2 of
``indexing.video.build_video_index`` when no tagger is given).

The teacher (default: Haar faces/people + Tesseract text) labels every ``round(1/label_fraction)``-th
sampled frame; the ShuffleNet-style tagger is trained on those labels with BCE
(``drqa_ng.video.tagger.train_distilled``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drqa_ng.errors import InputError, NotFoundError
from drqa_ng.video.frames import FrameSampler
from drqa_ng.video.recognize import Recognizer, default_recognizer, labels_of
from drqa_ng.video.tagger import TinyTagger, train_distilled

log = logging.getLogger(__name__)


def teacher_labels(frames: Sequence[np.ndarray], teacher: Recognizer | None) -> tuple[np.ndarray, float]:
    """The teacher's (frames, DEFAULT_TAGS) 0/1 targets for ``frames`` and the seconds it took."""
    from drqa_ng.video.tagger import DEFAULT_TAGS

    t0 = time.perf_counter()
    rec = teacher if teacher is not None else default_recognizer()
    dets = rec.recognize(list(frames)) if frames else []
    targets = (
        np.stack([labels_of(d, DEFAULT_TAGS) for d in dets]) if dets else np.zeros((0, len(DEFAULT_TAGS)))
    )
    log.info("teacher %s labelled %d frames: %s positives per tag", rec.name, len(dets), targets.sum(0))
    return targets, time.perf_counter() - t0


@dataclass(frozen=True, slots=True)
class DistilReport:
    """What ``distil_tagger`` did: frames sampled, frames the teacher labelled, positives per tag, times."""

    frames_sampled: int
    frames_teacher: int
    positives: tuple[int, ...]
    teacher_s: float
    train_s: float


def distil_tagger(
    videos: Sequence[Path],
    *,
    fps: float = 1.0,
    label_fraction: float = 0.15,
    teacher: Recognizer | None = None,
    epochs: int = 30,
    seed: int = 0,
) -> tuple[TinyTagger, DistilReport]:
    """Train a TinyTagger on every ``round(1/label_fraction)``-th sampled frame of ``videos``,
    labelled by ``teacher`` (default: Haar + Tesseract). Only those frames are kept in memory."""
    from drqa_ng.video.tagger import DEFAULT_TAGS

    if not videos:
        raise InputError("no videos given")
    if not 0 < label_fraction <= 1:
        raise InputError(f"label fraction must be in (0, 1], got {label_fraction}")
    if fps <= 0 or fps > 30:
        raise InputError(f"--fps must be in (0, 30], got {fps}")
    every = max(1, round(1 / label_fraction))
    frames: list[np.ndarray] = []
    sampled = 0
    for path in videos:
        if not Path(path).is_file():
            raise NotFoundError(f"video not found: {path}")
        for fr in FrameSampler(Path(path), fps=fps, max_side=640):
            if (sampled + seed) % every == every // 2:
                frames.append(fr.image)
            sampled += 1
    targets, teacher_s = teacher_labels(frames, teacher)
    t0 = time.perf_counter()
    model = train_distilled(frames, targets, epochs=epochs, seed=seed)
    train_s = time.perf_counter() - t0
    positives = tuple(int(x) for x in targets.sum(axis=0)) if len(targets) else (0,) * len(DEFAULT_TAGS)
    return model, DistilReport(sampled, len(frames), positives, teacher_s, train_s)
