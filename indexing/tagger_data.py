"""Labelled frames for the tagger search: frames sampled from videos, labelled by the heavy recogniser,
split by video into train and validation (a video's frames never land on both sides).

Cached as ``frames.npz`` (plain arrays: ``images`` uint8 (N, S, S, 3), ``labels`` float32 (N, tags),
``video`` int (N,)) plus ``frames.json`` (the video paths and the sampling settings): labelling is
the slow part (Tesseract), so a second run over the same videos and settings reuses it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drqa_ng.errors import InputError, NotFoundError
from drqa_ng.video.frames import FrameSampler, probe
from drqa_ng.video.recognize import Recognizer, default_recognizer, labels_of
from drqa_ng.video.tagger import DEFAULT_TAGS

log = logging.getLogger(__name__)

FRAMES_NPZ = "frames.npz"
FRAMES_JSON = "frames.json"


@dataclass(frozen=True, slots=True)
class LabelledFrames:
    """Frames resized to ``size`` x ``size`` RGB uint8, their teacher labels and the video index of each."""

    videos: tuple[str, ...]
    images: np.ndarray
    labels: np.ndarray
    video: np.ndarray
    teacher_s: float = 0.0

    def subset(self, videos: Sequence[int]) -> LabelledFrames:
        keep = np.isin(self.video, np.asarray(list(videos), dtype=np.int64))
        return LabelledFrames(
            self.videos, self.images[keep], self.labels[keep], self.video[keep], self.teacher_s
        )

    def __len__(self) -> int:
        return len(self.images)


def sample_and_label(
    videos: Sequence[Path],
    cache: Path,
    *,
    size: int = 96,
    fps: float = 1.0,
    min_frames: int = 20,
    teacher: Recognizer | None = None,
) -> LabelledFrames:
    """Sample each video at ``fps`` (faster for short clips, so each gives at least ``min_frames``),
    label the frames with ``teacher`` (default: Haar + Tesseract), keep them at ``size`` pixels."""
    import cv2

    if not videos:
        raise InputError("no videos given")
    for v in videos:
        if not Path(v).is_file():
            raise NotFoundError(f"video not found: {v}")
    names = tuple(str(Path(v).resolve()) for v in videos)
    key = {
        "videos": list(names),
        "size": size,
        "fps": fps,
        "min_frames": min_frames,
    }
    npz, meta = cache / FRAMES_NPZ, cache / FRAMES_JSON
    if npz.is_file() and meta.is_file() and json.loads(meta.read_text())["key"] == key:
        with np.load(npz, allow_pickle=False) as z:
            return LabelledFrames(
                names,
                z["images"],
                z["labels"],
                z["video"],
                json.loads(meta.read_text())["teacher_s"],
            )
    rec = teacher if teacher is not None else default_recognizer()
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    owner: list[int] = []
    teacher_s = 0.0
    for vi, path in enumerate(videos):
        info = probe(Path(path))
        rate = max(fps, min_frames / max(info.duration, 1e-3))
        frames = [f.image for f in FrameSampler(Path(path), fps=min(rate, 30.0), max_side=640)]
        t0 = time.perf_counter()
        dets = rec.recognize(frames)
        teacher_s += time.perf_counter() - t0
        for img, d in zip(frames, dets, strict=True):
            images.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
            labels.append(labels_of(d, DEFAULT_TAGS))
            owner.append(vi)
        log.info(
            "%s: %d frames labelled, positives %s", path, len(frames), np.sum(labels[-len(frames) :], axis=0)
        )
    out = LabelledFrames(
        names,
        np.stack(images).astype(np.uint8),
        np.stack(labels).astype(np.float32),
        np.asarray(owner, dtype=np.int64),
        teacher_s,
    )
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(npz, images=out.images, labels=out.labels, video=out.video)
    meta.write_text(json.dumps({"key": key, "teacher_s": teacher_s, "tags": list(DEFAULT_TAGS)}, indent=1))
    return out


def split_by_video(n_videos: int, val_every: int = 3) -> tuple[list[int], list[int]]:
    """Video indices for (train, validation): every ``val_every``-th video (from the third, when 3) is
    validation, at least one video on each side. InputError for fewer than two videos."""
    if n_videos < 2:
        raise InputError("the search needs at least two videos (train and validation are split by video)")
    val = [i for i in range(n_videos) if i % val_every == val_every - 1] or [n_videos - 1]
    train = [i for i in range(n_videos) if i not in val]
    return train, val
