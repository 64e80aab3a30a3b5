"""Decode videos with PyAV (no system ffmpeg): probe, sample frames at a low rate, fetch frames at given times."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drqa_ng.errors import DataFormatError, NotFoundError, UnsupportedError

log = logging.getLogger(__name__)

SEEK_GAP = 5.0
"""Seconds ahead beyond which ``frames_at`` seeks instead of decoding forward."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container says about a video: duration in seconds, frame rate, size."""

    path: str
    duration: float
    fps: float
    width: int
    height: int
    codec: str


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """One decoded frame: its presentation time in seconds and RGB pixels (H, W, 3) uint8."""

    t: float
    image: np.ndarray


def _open(path: Path):  # type: ignore[no-untyped-def]
    import av  # lazy: decoding is only needed at ingest and query time

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except av.error.InvalidDataError as e:
        raise DataFormatError(f"{path}: not a readable video container ({e})") from e
    except av.error.FFmpegError as e:
        raise UnsupportedError(f"{path}: cannot open video ({e})") from e
    if not container.streams.video:
        container.close()
        raise UnsupportedError(f"{path}: no video stream")
    return container


def probe(path: Path) -> VideoInfo:
    """Duration, fps and size of the first video stream; DataFormatError / UnsupportedError when unreadable."""
    with _open(path) as c:
        s = c.streams.video[0]
        if s.codec_context is None or not s.codec_context.name:
            raise UnsupportedError(f"{path}: unknown video codec")
        fps = float(s.average_rate or s.guessed_rate or 0) or 25.0
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif c.duration is not None:
            duration = c.duration / 1_000_000
        else:
            duration = float(s.frames / fps) if s.frames else 0.0
        return VideoInfo(
            str(path), duration, fps, s.codec_context.width, s.codec_context.height, s.codec_context.name
        )


def _resize(img: np.ndarray, max_side: int | None) -> np.ndarray:
    if max_side is None or max(img.shape[:2]) <= max_side:
        return img
    import cv2  # lazy

    h, w = img.shape[:2]
    scale = max_side / max(h, w)
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


class FrameSampler:
    """Iterate one frame every ``1/fps`` seconds (the first frame at or after each tick), resized so
    its longer side is at most ``max_side``; ``decoded`` / ``sampled`` count frames as it goes.

    Every frame is decoded (inter-coded video cannot skip), but only sampled ones are converted to
    RGB. Decode errors raise DataFormatError naming the file.
    """

    def __init__(self, path: Path, fps: float = 1.0, max_side: int | None = 640) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.path = Path(path)
        self.fps = fps
        self.max_side = max_side
        self.decoded = 0
        self.sampled = 0

    def __iter__(self) -> Iterator[SampledFrame]:
        import av  # lazy

        step = 1.0 / self.fps
        next_t = 0.0
        with _open(self.path) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            try:
                for frame in c.decode(s):
                    self.decoded += 1
                    t = frame.time
                    if t is None or t + 1e-6 < next_t:
                        continue
                    self.sampled += 1
                    yield SampledFrame(round(t, 3), _resize(frame.to_ndarray(format="rgb24"), self.max_side))
                    next_t = (int(t / step + 1e-6) + 1) * step
            except av.error.FFmpegError as e:
                raise DataFormatError(f"{self.path}: video data is corrupt ({e})") from e


def frames_at(path: Path, times: Sequence[float], max_side: int | None = 640) -> tuple[list[np.ndarray], int]:
    """RGB frames at the given times (first frame at or after each), plus how many frames were decoded.

    Seeks to the keyframe before each wanted time and decodes forward, so cost grows with the
    number of requested times, not the video length.
    """
    import av  # lazy

    order = sorted(range(len(times)), key=lambda i: times[i])
    out: list[np.ndarray | None] = [None] * len(times)
    decoded = 0
    eps = 1e-6
    with _open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        tb = s.time_base
        gen: Iterator[av.VideoFrame] | None = None
        cur: av.VideoFrame | None = None  # last decoded frame of the current run
        try:
            for i in order:
                want = float(times[i])
                cur_t = cur.time if cur is not None and cur.time is not None else -1.0
                if cur_t + eps < want:
                    if gen is None or want - cur_t > SEEK_GAP:
                        target = max(0.0, want)
                        if tb:
                            c.seek(int(target / float(tb)), stream=s, backward=True, any_frame=False)
                        else:
                            c.seek(int(target * 1_000_000), backward=True, any_frame=False)
                        gen = c.decode(s)
                    while True:
                        frame = next(gen, None)
                        if frame is None:
                            break
                        decoded += 1
                        cur = frame
                        if frame.time is not None and frame.time + eps >= want:
                            break
                if cur is None:
                    raise DataFormatError(f"{path}: no frame at {want:.2f}s")
                out[i] = _resize(cur.to_ndarray(format="rgb24"), max_side)
        except av.error.FFmpegError as e:
            raise DataFormatError(f"{path}: video data is corrupt ({e})") from e
    return [o for o in out if o is not None], decoded
