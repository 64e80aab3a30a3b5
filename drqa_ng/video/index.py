"""Question answering over a video index: retrieve segments, then recognise only their frames.

``VideoIndex.open(dir)`` maps the folder written by ``indexing.video.build_video_index``.
``ask`` runs, per question: sparse retrieval over segment texts (subtitles + tiny-CNN tag tokens)
-> choose up to ``frames_per_segment`` sampled frames of each retrieved segment (the tagger's
scores pick them) -> decode just those frames -> heavy recogniser -> optional reader over the
segment text (plus any OCR text found). Each answer carries a ``VideoAccounting`` of the work done.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import IndexFormatError, InputError, NotFoundError
from drqa_ng.index_io import StringArray, load_array, read_manifest
from drqa_ng.protocols import Reader
from drqa_ng.types import Answer, Hit, Passage
from drqa_ng.video.answers import FrameFindings, VideoAccounting, VideoAnswer
from drqa_ng.video.frames import frames_at
from drqa_ng.video.manifest import FORMAT_VERSION, KIND
from drqa_ng.video.recognize import Detection, Recognizer
from drqa_ng.video.segments import timestamp_link
from drqa_ng.video.tagger import TAG_WORDS

log = logging.getLogger(__name__)

SPARSE_DIR = "sparse"
TAGGER_FILE = "tagger.safetensors"
VIDEOS_FILE = "videos.json"
MAX_QUESTION_CHARS = 1000

__all__ = ["FrameFindings", "VideoAccounting", "VideoAnswer", "VideoIndex", "VideoRecord", "select_frames"]


@dataclass(frozen=True, slots=True)
class _Looked:
    """One question's retrieval and recognition results, before answers are assembled."""

    hits: list[Hit]
    rows: list[int]
    chosen: dict[int, list[int]]
    found: dict[int, tuple[Detection, ...]]
    decoded: int
    decode_s: float
    recognize_s: float


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """One indexed source video, as recorded in ``videos.json``."""

    id: str
    path: str
    name: str
    sha256: str
    duration: float
    subtitles: str


def select_frames(probs: np.ndarray, question: str, tags: Sequence[str], n: int) -> list[int]:
    """Indices (time order) of the ``n`` frames of a segment most worth the heavy recogniser.

    A frame's score is its tiny-CNN probability for the tags the question names (by tag name or
    ``TAG_WORDS``), or its highest tag probability when it names none; ties go to frames nearer
    the segment's middle, so an untagged segment is still looked at in its centre.
    """
    m = len(probs)
    if m == 0 or n <= 0:
        return []
    words = set(question.lower().replace("?", " ").split())
    named = [i for i, t in enumerate(tags) if t in words or words & set(TAG_WORDS.get(t, "").split())]
    score = probs[:, named].max(axis=1) if named else (probs.max(axis=1) if probs.shape[1] else np.zeros(m))
    mid = (m - 1) / 2
    order = sorted(range(m), key=lambda i: (-round(float(score[i]), 3), abs(i - mid), i))
    return sorted(order[:n])


class VideoIndex:
    """A video index folder, memory-mapped; ``search`` is the Retriever protocol over segments."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        arrays: dict[str, np.ndarray],
        strings: dict[str, StringArray],
        videos: list[VideoRecord],
        sparse: Any,
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

    def _accounting(self, **query: Any) -> VideoAccounting:
        c, t = self.manifest.get("counts", {}), self.manifest.get("timings", {})
        return VideoAccounting(
            **query,
            index_frames_decoded=int(c.get("frames_decoded", 0)),
            index_frames_sampled=int(c.get("frames", 0)),
            index_frames_tagged=int(c.get("frames_tagged", 0)),
            index_frames_teacher=int(c.get("frames_teacher", 0)),
            index_decode_s=float(t.get("decode_s", 0.0)),
            index_teacher_s=float(t.get("teacher_s", 0.0)),
            index_train_s=float(t.get("train_s", 0.0)),
            index_tag_s=float(t.get("tag_s", 0.0)),
        )

    def _video_path(self, vi: int) -> Path:
        p = Path(self.videos[vi].path)
        if not p.is_file():
            raise NotFoundError(f"video {self.videos[vi].id} moved or deleted: {p}")
        return p

    def _recognize(
        self, frame_rows: Sequence[int], recognizer: Recognizer
    ) -> tuple[dict[int, tuple[Detection, ...]], int, float, float]:
        """Decode the given frame rows (grouped by video) and run the recogniser once on all of them."""
        t0 = time.perf_counter()
        images: list[np.ndarray] = []
        order: list[int] = []
        decoded = 0
        fv, ft = self._a["frame_video"], self._a["frame_time"]
        for vi in sorted({int(fv[r]) for r in frame_rows}):
            rows = [r for r in frame_rows if int(fv[r]) == vi]
            imgs, n = frames_at(self._video_path(vi), [float(ft[r]) for r in rows])
            images.extend(imgs)
            order.extend(rows)
            decoded += n
        decode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        dets = recognizer.recognize(images) if images else []
        recognize_s = time.perf_counter() - t0
        if len(dets) != len(images):
            raise ValueError(
                f"recogniser {recognizer.name} returned {len(dets)} results for {len(images)} frames"
            )
        return {r: tuple(d) for r, d in zip(order, dets, strict=True)}, decoded, decode_s, recognize_s

    def ask(
        self,
        questions: Sequence[str],
        k: int = 3,
        *,
        recognizer: Recognizer | None = None,
        reader: Reader | None = None,
        frames_per_segment: int = 2,
    ) -> list[list[VideoAnswer]]:
        """Answer each question with its top ``k`` segments, best first.

        Only frames of those segments (``frames_per_segment`` each, chosen by ``select_frames``)
        are decoded and given to ``recognizer``; ``recognizer=None`` skips that stage. With a
        ``reader``, each segment's best span over its subtitles (+ OCR text) is attached.
        """
        if isinstance(questions, str):
            raise InputError("ask() takes a list of questions, not one string")
        if not 1 <= k <= 100:
            raise InputError(f"k must be in 1..100, got {k}")
        if frames_per_segment < 0:
            raise InputError("frames_per_segment must be >= 0")
        for q in questions:
            if not isinstance(q, str) or not q.strip():
                raise InputError("empty question")
            if len(q) > MAX_QUESTION_CHARS:
                raise InputError(f"question longer than {MAX_QUESTION_CHARS} characters")
        if not questions:
            return []
        t0 = time.perf_counter()
        all_hits = self.search(questions, k)
        retrieve_s = (time.perf_counter() - t0) / len(questions)

        seg_time, seg_frames, seg_video = self._a["seg_time"], self._a["seg_frames"], self._a["seg_video"]
        per_q: list[_Looked] = []
        for q, hits in zip(questions, all_hits, strict=True):
            rows = [self._row[h.id] for h in hits]
            chosen: dict[int, list[int]] = {}
            for r in rows:
                lo, hi = (int(x) for x in seg_frames[r])
                probs = np.asarray(self._a["frame_tags"][lo:hi], dtype=np.float32)
                chosen[r] = [lo + i for i in select_frames(probs, q, self.tags, frames_per_segment)]
            unique = sorted({f for fs in chosen.values() for f in fs})
            found: dict[int, tuple[Detection, ...]] = {}
            decoded, decode_s, recognize_s = 0, 0.0, 0.0
            if recognizer is not None and unique:
                found, decoded, decode_s, recognize_s = self._recognize(unique, recognizer)
            if recognizer is None:
                chosen = {r: [] for r in rows}
            per_q.append(_Looked(hits, rows, chosen, found, decoded, decode_s, recognize_s))

        spans: list[dict[str, Answer]] = [{} for _ in questions]
        read_s = 0.0
        if reader is not None:
            t0 = time.perf_counter()
            passages = [[self._reader_passage(r, d.chosen[r], d.found) for r in d.rows] for d in per_q]
            answers = reader.read(list(questions), passages, top_n=max(1, k))
            for qi, ans in enumerate(answers):
                for a in ans:
                    spans[qi].setdefault(a.passage.id, a)
            read_s = (time.perf_counter() - t0) / len(questions)

        out: list[list[VideoAnswer]] = []
        for qi, d in enumerate(per_q):
            total = retrieve_s + d.decode_s + d.recognize_s + read_s
            acc = self._accounting(
                frames_decoded=d.decoded,
                frames_heavy=len(d.found),
                retrieve_s=round(retrieve_s, 4),
                decode_s=round(d.decode_s, 4),
                recognize_s=round(d.recognize_s, 4),
                read_s=round(read_s, 4),
                total_s=round(total, 4),
            )
            answers_q: list[VideoAnswer] = []
            for h, r in zip(d.hits, d.rows, strict=True):
                vi = int(seg_video[r])
                v = self.videos[vi]
                t_start, t_end = (float(x) for x in seg_time[r])
                findings = tuple(
                    FrameFindings(v.id, round(float(self._a["frame_time"][f]), 3), d.found.get(f, ()))
                    for f in d.chosen[r]
                )
                answers_q.append(
                    VideoAnswer(
                        video_id=v.id,
                        video_path=v.path,
                        segment_id=h.id,
                        t_start=t_start,
                        t_end=t_end,
                        link=timestamp_link(v.name, t_start, t_end),
                        text=self._s["seg_subs"][r],
                        tags=self.segment_tags(r),
                        score=h.score,
                        findings=findings,
                        span=spans[qi].get(h.id),
                        accounting=acc,
                    )
                )
            out.append(answers_q)
        return out

    def _reader_passage(
        self, row: int, frames: Sequence[int], found: dict[int, tuple[Detection, ...]]
    ) -> Passage:
        """The segment's subtitles plus any OCR text its recognised frames showed."""
        sid = self._s["seg_ids"][row]
        vid = self.videos[int(self._a["seg_video"][row])].id
        ocr = [d.text for f in frames for d in found.get(f, ()) if d.text]
        text = " ".join([self._s["seg_subs"][row], *dict.fromkeys(ocr)]).strip()
        return Passage(sid, vid, vid, text, 0, len(text), "passage")
