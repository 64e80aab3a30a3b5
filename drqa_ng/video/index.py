"""A video index folder as a retriever over segment passages.

``VideoIndex.open(dir)`` maps the folder written by ``indexing.video.build_video_index``. Its
``search`` is the ``Retriever`` protocol (BM25 over each segment's subtitle text + tiny-CNN tag
tokens; ``drqa_ng.indexes.open_retriever`` opens a video index like a sparse or dense one),
``get_passages`` turns segment ids into passages (the subtitles, as the reader sees them), and the
frame accessors serve the recognition stage that runs after retrieval (``drqa_ng.video.qa``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.index_io import StringArray, load_array, read_manifest
from drqa_ng.types import Hit, Passage
from drqa_ng.video.answers import FrameFindings, VideoAccounting, VideoAnswer
from drqa_ng.video.manifest import FORMAT_VERSION, KIND

if TYPE_CHECKING:
    from drqa_ng.retrieval.sparse import SparseIndex

log = logging.getLogger(__name__)

SPARSE_DIR = "sparse"
TAGGER_FILE = "tagger.safetensors"
VIDEOS_FILE = "videos.json"

__all__ = ["FrameFindings", "VideoAccounting", "VideoAnswer", "VideoIndex", "VideoRecord"]


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """One indexed source video, as recorded in ``videos.json``."""

    id: str
    path: str
    name: str
    sha256: str
    duration: float
    subtitles: str


class VideoIndex:
    """A video index folder, memory-mapped; ``search`` is the Retriever protocol over segment passages."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        arrays: dict[str, np.ndarray],
        strings: dict[str, StringArray],
        videos: list[VideoRecord],
        sparse: SparseIndex,
    ) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._a = arrays
        self._s = strings
        self.videos = videos
        self._sparse = sparse
        self.tags: tuple[str, ...] = tuple(manifest["params"]["tags"])
        self.tag_threshold = float(manifest["params"]["tag_threshold"])
        self._row = {sid: i for i, sid in enumerate(strings["seg_ids"])}

    @classmethod
    def open(cls, path: Path) -> VideoIndex:
        """Open and check a video index folder (NotFoundError / IndexFormatError with a one-line reason)."""
        from drqa_ng.retrieval.sparse import SparseIndex

        path = Path(path)
        manifest = read_manifest(path, kind=KIND, version=FORMAT_VERSION)
        try:
            n_seg = int(manifest["counts"]["segments"])
            n_frames = int(manifest["counts"]["frames"])
            tags = list(manifest["params"]["tags"])
            float(manifest["params"]["tag_threshold"])
        except (KeyError, TypeError, ValueError) as e:
            raise IndexFormatError(f"{path}: manifest lacks counts/params: {e}") from e
        arrays = {
            name: load_array(path, f"{name}.npy")
            for name in ("seg_video", "seg_time", "seg_frames", "frame_video", "frame_time", "frame_tags")
        }
        strings = {name: StringArray.open(path, name) for name in ("seg_ids", "seg_texts", "seg_subs")}
        expect = {
            "seg_video": (n_seg,),
            "seg_time": (n_seg, 2),
            "seg_frames": (n_seg, 2),
            "frame_video": (n_frames,),
            "frame_time": (n_frames,),
            "frame_tags": (n_frames, len(tags)),
        }
        bad = [
            f"{k} has shape {arrays[k].shape}, expected {v}"
            for k, v in expect.items()
            if arrays[k].shape != v
        ]
        bad += [f"{k} has {len(s)} rows, expected {n_seg}" for k, s in strings.items() if len(s) != n_seg]
        if bad:
            raise IndexFormatError(f"{path} is corrupt: " + "; ".join(bad))
        try:
            raw = json.loads((path / VIDEOS_FILE).read_text())
            videos = [
                VideoRecord(v["id"], v["path"], v["name"], v["sha256"], float(v["duration"]), v["subtitles"])
                for v in raw
            ]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise IndexFormatError(f"{path}/{VIDEOS_FILE} is missing or corrupt: {e}") from e
        sparse = SparseIndex.open(path / SPARSE_DIR)
        if len(sparse) != n_seg:
            raise IndexFormatError(f"{path}: sparse index holds {len(sparse)} units for {n_seg} segments")
        return cls(path, manifest, arrays, strings, videos, sparse)

    @property
    def unit(self) -> str:
        return "passage"

    def __len__(self) -> int:
        return len(self._s["seg_ids"])

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` segments per query (BM25 over subtitle text + tag tokens)."""
        hits: list[list[Hit]] = self._sparse.search(queries, k)
        return hits

    @property
    def n_frames(self) -> int:
        """Sampled frames in the index."""
        return len(self._a["frame_time"])

    @property
    def frame_tags(self) -> np.ndarray:
        """Tiny-CNN tag probabilities of every sampled frame, (frames, tags) float16, mmapped."""
        return self._a["frame_tags"]

    def segment_row(self, segment_id: str) -> int:
        """Row of a segment id; NotFoundError for an unknown id."""
        try:
            return self._row[segment_id]
        except KeyError:
            raise NotFoundError(f"no segment {segment_id!r} in {self.path}") from None

    def segment_frames(self, row: int) -> range:
        """Frame rows (into ``frame_tags``) sampled inside segment ``row``."""
        lo, hi = (int(x) for x in self._a["seg_frames"][row])
        return range(lo, hi)

    def segment_tags(self, row: int) -> tuple[str, ...]:
        """Tags whose best frame probability in segment ``row`` reaches the index's threshold."""
        lo, hi = (int(x) for x in self._a["seg_frames"][row])
        if hi <= lo:
            return ()
        best = np.asarray(self._a["frame_tags"][lo:hi], dtype=np.float32).max(axis=0)
        return tuple(t for t, p in zip(self.tags, best, strict=True) if p >= self.tag_threshold)

    def segment_passage(self, row: int) -> Passage:
        """Segment ``row`` as a passage: its id, its video's id (as doc id and title) and its subtitles."""
        text = self._s["seg_subs"][row]
        vid = self.segment_video(row).id
        return Passage(self._s["seg_ids"][row], vid, vid, text, 0, len(text), "passage")

    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]:
        """Segment passages for segment ids, order kept; None for an unknown id."""
        rows = [self._row.get(i) for i in ids]
        return [None if r is None else self.segment_passage(r) for r in rows]

    def segment_video(self, row: int) -> VideoRecord:
        """The video segment ``row`` belongs to."""
        return self.videos[int(self._a["seg_video"][row])]

    def segment_time(self, row: int) -> tuple[float, float]:
        """Start and end of segment ``row`` in seconds."""
        t_start, t_end = (float(x) for x in self._a["seg_time"][row])
        return t_start, t_end

    def frame_video(self, frame_row: int) -> int:
        """Index into ``videos`` of the video a sampled frame comes from."""
        return int(self._a["frame_video"][frame_row])

    def frame_time(self, frame_row: int) -> float:
        """Seconds into its video of a sampled frame."""
        return float(self._a["frame_time"][frame_row])

    def accounting(
        self,
        *,
        frames_decoded: int,
        frames_heavy: int,
        retrieve_s: float,
        decode_s: float,
        recognize_s: float,
        read_s: float,
        total_s: float,
    ) -> VideoAccounting:
        """One question's work (the arguments) next to the index-time counts and times of the manifest."""
        c, t = self.manifest.get("counts", {}), self.manifest.get("timings", {})
        return VideoAccounting(
            frames_decoded=frames_decoded,
            frames_heavy=frames_heavy,
            retrieve_s=retrieve_s,
            decode_s=decode_s,
            recognize_s=recognize_s,
            read_s=read_s,
            total_s=total_s,
            index_frames_decoded=int(c.get("frames_decoded", 0)),
            index_frames_sampled=int(c.get("frames", 0)),
            index_frames_tagged=int(c.get("frames_tagged", 0)),
            index_frames_teacher=int(c.get("frames_teacher", 0)),
            index_decode_s=float(t.get("decode_s", 0.0)),
            index_teacher_s=float(t.get("teacher_s", 0.0)),
            index_train_s=float(t.get("train_s", 0.0)),
            index_tag_s=float(t.get("tag_s", 0.0)),
        )

    def video_path(self, vi: int) -> Path:
        """The source file of video ``vi``; NotFoundError when it moved or was deleted since indexing."""
        p = Path(self.videos[vi].path)
        if not p.is_file():
            raise NotFoundError(f"video {self.videos[vi].id} moved or deleted: {p}")
        return p
