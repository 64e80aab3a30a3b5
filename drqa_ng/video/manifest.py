"""``manifest.json`` of a video index: the one owner of its schema.

``indexing.video`` writes it with ``VideoManifest.save``; ``VideoManifest.load`` reads and checks it
(kind "video", format 1). JSON layout: ``params`` (fps, min_seg, max_seg, overlap, tags,
tag_threshold, label_fraction), ``counts`` (videos, segments, frames, frames_decoded, frames_tagged,
frames_teacher), ``timings`` (seconds per build stage) and ``corpus_hash`` (sha256 of ``videos.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from drqa_ng.index_io import load_fields, write_manifest

KIND = "video"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class VideoParams:
    """How the index was built: sampling rate, segment lengths, the tagger's tags and threshold."""

    fps: float
    min_seg: float
    max_seg: float
    overlap: float
    tags: tuple[str, ...]
    tag_threshold: float
    label_fraction: float | None = None


@dataclass(frozen=True, slots=True)
class VideoCounts:
    videos: int
    segments: int
    frames: int
    frames_decoded: int = 0
    frames_tagged: int = 0
    frames_teacher: int = 0


@dataclass(frozen=True, slots=True)
class VideoTimings:
    """Wall seconds of each build stage."""

    decode_s: float = 0.0
    teacher_s: float = 0.0
    train_s: float = 0.0
    tag_s: float = 0.0
    index_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True, slots=True)
class VideoManifest:
    """A video index's manifest (``extra``: keys this version does not know, written back unchanged)."""

    KIND: ClassVar[str] = KIND
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    params: VideoParams
    counts: VideoCounts
    timings: VideoTimings = VideoTimings()
    corpus_hash: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON fields (without kind and format_version)."""
        p, c, t = self.params, self.counts, self.timings
        return {
            **self.extra,
            "params": {
                "fps": p.fps,
                "min_seg": p.min_seg,
                "max_seg": p.max_seg,
                "overlap": p.overlap,
                "tags": list(p.tags),
                "tag_threshold": p.tag_threshold,
                "label_fraction": p.label_fraction,
            },
            "counts": {
                "videos": c.videos,
                "segments": c.segments,
                "frames": c.frames,
                "frames_decoded": c.frames_decoded,
                "frames_tagged": c.frames_tagged,
                "frames_teacher": c.frames_teacher,
            },
            "timings": {
                "decode_s": t.decode_s,
                "teacher_s": t.teacher_s,
                "train_s": t.train_s,
                "tag_s": t.tag_s,
                "index_s": t.index_s,
                "total_s": t.total_s,
            },
            "corpus_hash": self.corpus_hash,
        }

    def save(self, folder: Path) -> None:
        """Write ``folder/manifest.json`` (byte-identical to what format 1 has always written)."""
        write_manifest(folder, KIND, FORMAT_VERSION, **self.to_json())

    @classmethod
    def load(cls, folder: Path) -> VideoManifest:
        """Read and check ``folder/manifest.json``: NotFoundError, or IndexFormatError naming the problem."""
        f = load_fields(folder, KIND, FORMAT_VERSION)
        p, c = f.sub("params"), f.sub("counts")
        t = f.sub("timings", {})
        tags = p.array("tags")
        label_fraction = p.number("label_fraction") if p.has("label_fraction") else None
        m = cls(
            params=VideoParams(
                fps=p.number("fps"),
                min_seg=p.number("min_seg"),
                max_seg=p.number("max_seg"),
                overlap=p.number("overlap"),
                tags=tuple(str(x) for x in tags),
                tag_threshold=p.number("tag_threshold"),
                label_fraction=label_fraction,
            ),
            counts=VideoCounts(
                videos=c.integer("videos"),
                segments=c.integer("segments"),
                frames=c.integer("frames"),
                frames_decoded=c.integer("frames_decoded", 0),
                frames_tagged=c.integer("frames_tagged", 0),
                frames_teacher=c.integer("frames_teacher", 0),
            ),
            timings=VideoTimings(**{k: t.number(k, 0.0) for k in VideoTimings.__dataclass_fields__}),
            corpus_hash=f.text("corpus_hash", ""),
        )
        # keys this version does not write: kept, so a rewrite of the manifest loses nothing
        return replace(m, extra=f.unknown(m.to_json()))
