"""Build a video index: subtitle-aligned segments, tiny-CNN frame tags, and a sparse index over segment text.

Pipeline per video: probe -> subtitles (sidecar .srt/.vtt, else an embedded text stream) ->
decode and sample frames at ``fps`` -> (distil a tagger on a ``label_fraction`` sample labelled by
the heavy recogniser, unless one is given) -> tag every sampled frame -> segments whose text is
subtitle text plus tag tokens -> sparse BM25 index (``indexing.sparse``) in ``sparse/``.

Folder layout (format version 1), written atomically:
``manifest.json`` (kind "video"), ``videos.json`` (paths, sha256, duration, subtitle source),
``seg_ids`` / ``seg_texts`` / ``seg_subs`` (StringArrays: ids, indexed text, subtitle-only text),
``seg_video.npy`` int32, ``seg_time.npy`` float64 (n, 2), ``seg_frames.npy`` int64 (n, 2) row
range into the frame arrays, ``frame_video.npy`` int32, ``frame_time.npy`` float32,
``frame_tags.npy`` float16 (frames, tags), ``tagger.safetensors``, ``sparse/``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drqa_ng.errors import InputError, NotFoundError, UnsupportedError
from drqa_ng.index_io import StringArray, atomic_dir, file_sha256
from drqa_ng.types import Passage
from drqa_ng.video.frames import FrameSampler, VideoInfo, probe
from drqa_ng.video.index import SPARSE_DIR, TAGGER_FILE, VIDEOS_FILE
from drqa_ng.video.manifest import VideoCounts, VideoManifest, VideoParams, VideoTimings
from drqa_ng.video.recognize import Recognizer
from drqa_ng.video.segments import Segment, check_params, make_segments
from drqa_ng.video.subtitles import Cue, embedded_text_cues, find_sidecar, load_subtitles
from drqa_ng.video.tagger import TAG_WORDS, TinyTagger, tag_probs, train_distilled
from drqa_ng.video.taggers import Tagger, save_any_tagger
from indexing.video_tagger import teacher_labels

log = logging.getLogger(__name__)

SPARSE_BUCKETS = 2**20
"""Hash buckets for the segment index: segments are few, so a small table (8 MB indptr) suffices."""


@dataclass(frozen=True, slots=True)
class VideoBuildReport:
    """Counts and per-stage wall times of one build."""

    path: Path
    videos: int
    segments: int
    frames_decoded: int
    frames_sampled: int
    frames_tagged: int
    frames_teacher: int
    decode_s: float
    teacher_s: float
    train_s: float
    tag_s: float
    index_s: float
    total_s: float


@dataclass(frozen=True, slots=True)
class _Video:
    id: str
    path: Path
    cues: tuple[Cue, ...]
    subtitle_source: str


def _video_ids(paths: Sequence[Path]) -> list[str]:
    ids: list[str] = []
    seen: dict[str, int] = {}
    for p in paths:
        stem = p.stem.replace("#", "_")
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        ids.append(stem if n == 0 else f"{stem}-{n + 1}")
    return ids


def _subtitles(path: Path, ocr: bool) -> tuple[list[Cue], str]:
    """Sidecar file, else embedded text stream, else OCR of an image stream (when ``ocr``)."""
    sidecar = find_sidecar(path)
    if sidecar is not None:
        return load_subtitles(sidecar), f"sidecar:{sidecar.name}"
    cues, image_codecs = embedded_text_cues(path)
    if cues:
        return cues, "embedded"
    if image_codecs and ocr:
        from drqa_ng.video.pgs import ocr_image_subtitles

        try:
            cues = ocr_image_subtitles(path)
        except UnsupportedError as e:
            log.warning("%s: %s; indexing frame tags only", path, e)
            return [], "none"
        if cues:
            return cues, f"ocr:{image_codecs[0]}"
    if image_codecs:
        log.warning(
            "%s: only image-based subtitles (%s) and no text from them; indexing frame tags only",
            path,
            ", ".join(image_codecs),
        )
    else:
        log.warning("%s: no subtitles found; indexing fixed windows with frame tags only", path)
    return [], "none"


def segment_tag_tokens(probs: np.ndarray, tags: Sequence[str], threshold: float) -> str:
    """Tokens for the tags whose max probability over the segment's frames reaches ``threshold``.

    Each tag contributes ``tag_<name>`` plus its human words (``TAG_WORDS``) so that both
    structured and plain-language queries match.
    """
    if len(probs) == 0:
        return ""
    best = probs.max(axis=0)
    words: list[str] = []
    for t, p in zip(tags, best, strict=True):
        if p >= threshold:
            words.append(f"tag_{t}")
            words.append(TAG_WORDS.get(t, t))
    return " ".join(words)


@dataclass(frozen=True, slots=True)
class _Decoded:
    """Stage 1's output: the videos, every sampled frame as a tagger-sized thumbnail with its video row
    and time, and the larger copies of the frames the teacher will label."""

    videos: tuple[_Video, ...]
    infos: tuple[VideoInfo, ...]
    thumbs: list[np.ndarray]
    frame_video: np.ndarray
    frame_time: np.ndarray
    teacher_rows: list[int]
    teacher_frames: list[np.ndarray]
    decoded: int
    seconds: float


@dataclass(frozen=True, slots=True)
class _Segmented:
    """Stage 4's output: the segments, their video rows, frame row ranges and indexed texts."""

    segments: list[Segment]
    seg_video: list[int]
    seg_frames: list[tuple[int, int]]
    texts: list[str]


def _check_build(
    paths: Sequence[Path], fps: float, label_fraction: float, seg: tuple[float, float, float]
) -> None:
    if not paths:
        raise InputError("no videos given")
    if fps <= 0 or fps > 30:
        raise InputError(f"--fps must be in (0, 30], got {fps}")
    if not 0 < label_fraction <= 1:
        raise InputError(f"label fraction must be in (0, 1], got {label_fraction}")
    check_params(*seg)
    for p in paths:
        if not p.is_file():
            raise NotFoundError(f"video not found: {p}")


def _decode(
    paths: Sequence[Path], fps: float, size: int, teacher_every: int | None, seed: int, ocr: bool
) -> _Decoded:
    """Stage 1: probe, read subtitles and sample frames at ``fps``; keep tagger-sized thumbnails of every
    sampled frame and larger copies only of every ``teacher_every``-th (None: no teacher)."""
    import cv2  # lazy

    infos: list[VideoInfo] = []
    vids: list[_Video] = []
    thumbs: list[np.ndarray] = []
    frame_video: list[int] = []
    frame_time: list[float] = []
    teacher_rows: list[int] = []
    teacher_frames: list[np.ndarray] = []
    decoded = 0
    t0 = time.perf_counter()
    for vi, (vid, path) in enumerate(zip(_video_ids(paths), paths, strict=True)):
        info = probe(path)
        cues, source = _subtitles(path, ocr)
        sampler = FrameSampler(path, fps=fps, max_side=640)
        for fr in sampler:
            row = len(thumbs)
            thumbs.append(cv2.resize(fr.image, (size, size), interpolation=cv2.INTER_AREA))
            frame_video.append(vi)
            frame_time.append(fr.t)
            if teacher_every is not None and (row + seed) % teacher_every == teacher_every // 2:
                teacher_rows.append(row)
                teacher_frames.append(fr.image)
        decoded += sampler.decoded
        if sampler.sampled == 0:
            log.warning("%s: no frames decoded", path)
        infos.append(info)
        vids.append(_Video(vid, path, tuple(cues), source))
    return _Decoded(
        tuple(vids),
        tuple(infos),
        thumbs,
        np.asarray(frame_video, dtype=np.int32),
        np.asarray(frame_time, dtype=np.float64),
        teacher_rows,
        teacher_frames,
        decoded,
        time.perf_counter() - t0,
    )


def _distil(
    frames: list[np.ndarray], teacher: Recognizer | None, epochs: int, seed: int
) -> tuple[TinyTagger, float, float]:
    """Stage 2: label ``frames`` with the heavy recogniser and train the tiny tagger on those labels;
    returns the tagger and the teacher and training times."""
    from drqa_ng.video.tagger import TaggerConfig

    targets, teacher_s = teacher_labels(frames, teacher)
    t0 = time.perf_counter()
    tagger = train_distilled(frames, targets, config=TaggerConfig(), epochs=epochs, seed=seed)
    return tagger, teacher_s, time.perf_counter() - t0


def _segment(
    d: _Decoded,
    probs: np.ndarray,
    tags: Sequence[str],
    *,
    fps: float,
    min_seg: float,
    max_seg: float,
    overlap: float,
    tag_threshold: float,
) -> _Segmented:
    """Stage 4: cut each video into segments, find each segment's frame rows and build its indexed text
    (subtitles + tag tokens)."""
    fv, ft = d.frame_video, d.frame_time
    out = _Segmented([], [], [], [])
    for vi, (v, info) in enumerate(zip(d.videos, d.infos, strict=True)):
        rows = np.flatnonzero(fv == vi)
        duration = float(ft[rows[-1]] + 1.0 / fps) if len(rows) else info.duration
        for seg in make_segments(v.id, v.cues, duration, min_seg=min_seg, max_seg=max_seg, overlap=overlap):
            lo = int(rows[0] + np.searchsorted(ft[rows], seg.t_start - 1e-6)) if len(rows) else 0
            hi = int(rows[0] + np.searchsorted(ft[rows], seg.t_end - 1e-6)) if len(rows) else 0
            if hi <= lo and len(rows):  # a very short segment still gets its nearest frame
                lo = min(lo, int(rows[-1]))
                hi = lo + 1
            out.segments.append(seg)
            out.seg_video.append(vi)
            out.seg_frames.append((lo, hi))
            tokens = segment_tag_tokens(probs[lo:hi], tags, tag_threshold)
            out.texts.append(f"{seg.text} {tokens}".strip())
    return out


def _write_arrays(tmp: Path, d: _Decoded, s: _Segmented, probs: np.ndarray, tagger: Tagger) -> None:
    """The sparse index over the segment texts, the segment and frame arrays, the tagger and ``videos.json``."""
    from indexing.sparse import build_sparse_index

    passages = (
        Passage(seg.id, seg.video_id, seg.video_id, text, 0, len(text), "passage")
        for seg, text in zip(s.segments, s.texts, strict=True)
    )
    build_sparse_index(
        passages, tmp / SPARSE_DIR, unit="passage", buckets=SPARSE_BUCKETS, show_progress=False
    )
    StringArray.write(tmp, "seg_ids", (seg.id for seg in s.segments))
    StringArray.write(tmp, "seg_texts", s.texts)
    StringArray.write(tmp, "seg_subs", (seg.text for seg in s.segments))
    np.save(tmp / "seg_video.npy", np.asarray(s.seg_video, dtype=np.int32))
    np.save(
        tmp / "seg_time.npy", np.asarray([(seg.t_start, seg.t_end) for seg in s.segments], dtype=np.float64)
    )
    np.save(tmp / "seg_frames.npy", np.asarray(s.seg_frames, dtype=np.int64).reshape(-1, 2))
    np.save(tmp / "frame_video.npy", d.frame_video)
    np.save(tmp / "frame_time.npy", d.frame_time.astype(np.float32))
    np.save(tmp / "frame_tags.npy", probs.astype(np.float16))
    save_any_tagger(tagger, tmp / TAGGER_FILE)
    meta = [
        {
            "id": v.id,
            "path": str(v.path.resolve()),
            "name": v.path.name,
            "sha256": file_sha256(v.path),
            "duration": info.duration,
            "fps": info.fps,
            "width": info.width,
            "height": info.height,
            "codec": info.codec,
            "subtitles": v.subtitle_source,
            "cues": len(v.cues),
        }
        for v, info in zip(d.videos, d.infos, strict=True)
    ]
    (tmp / VIDEOS_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def build_video_index(
    videos: Sequence[Path],
    out: Path,
    *,
    fps: float = 1.0,
    min_seg: float = 10.0,
    max_seg: float = 30.0,
    overlap: float = 2.0,
    tagger: Tagger | None = None,
    teacher: Recognizer | None = None,
    label_fraction: float = 0.15,
    tag_threshold: float = 0.5,
    epochs: int = 30,
    seed: int = 0,
    ocr_subtitles: bool = True,
) -> VideoBuildReport:
    """Index ``videos`` into the folder ``out`` (see the module docstring for the layout).

    Subtitles come from a sidecar ``.srt``/``.vtt``, else an embedded text stream, else (with
    ``ocr_subtitles``) Tesseract OCR of an image-based stream (PGS/DVD). Without ``tagger``, one is
    distilled from ``teacher`` (default: Haar + Tesseract) on every ``round(1/label_fraction)``-th
    sampled frame. Bad input raises InputError / NotFoundError; unreadable video DataFormatError /
    UnsupportedError; nothing is written unless all succeed. Stages: ``_decode`` -> ``_distil`` (without
    ``tagger``) -> tag every frame -> ``_segment`` -> ``_write_arrays`` + manifest, in a temp folder.
    """
    t_all = time.perf_counter()
    paths = [Path(v) for v in videos]
    _check_build(paths, fps, label_fraction, (min_seg, max_seg, overlap))
    every = max(1, round(1 / label_fraction))
    size = tagger.config.input_size if tagger is not None else 96
    d = _decode(paths, fps, size, None if tagger is not None else every, seed, ocr_subtitles)
    decode_s, thumbs, teacher_rows, decoded, vids = d.seconds, d.thumbs, d.teacher_rows, d.decoded, d.videos
    teacher_s = train_s = 0.0
    if tagger is None:
        tagger, teacher_s, train_s = _distil(d.teacher_frames, teacher, epochs, seed)
    tags = tagger.config.tags
    t0 = time.perf_counter()
    probs = tag_probs(tagger, thumbs) if thumbs else np.zeros((0, len(tags)), np.float32)
    tag_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    segmented = _segment(
        d,
        probs,
        tags,
        fps=fps,
        min_seg=min_seg,
        max_seg=max_seg,
        overlap=overlap,
        tag_threshold=tag_threshold,
    )
    segments = segmented.segments
    out = Path(out)
    with atomic_dir(out) as tmp:
        _write_arrays(tmp, d, segmented, probs, tagger)
        index_s = time.perf_counter() - t0
        total_s = time.perf_counter() - t_all
        VideoManifest(
            params=VideoParams(
                fps=fps,
                min_seg=min_seg,
                max_seg=max_seg,
                overlap=overlap,
                tags=tuple(tags),
                tag_threshold=tag_threshold,
                label_fraction=label_fraction if teacher_rows else None,
            ),
            counts=VideoCounts(
                videos=len(vids),
                segments=len(segments),
                frames=len(thumbs),
                frames_decoded=decoded,
                frames_tagged=len(thumbs),
                frames_teacher=len(teacher_rows),
            ),
            timings=VideoTimings(
                decode_s=round(decode_s, 3),
                teacher_s=round(teacher_s, 3),
                train_s=round(train_s, 3),
                tag_s=round(tag_s, 3),
                index_s=round(index_s, 3),
                total_s=round(total_s, 3),
            ),
            corpus_hash=file_sha256(tmp / VIDEOS_FILE),
        ).save(tmp)
    return VideoBuildReport(
        path=out,
        videos=len(vids),
        segments=len(segments),
        frames_decoded=decoded,
        frames_sampled=len(thumbs),
        frames_tagged=len(thumbs),
        frames_teacher=len(teacher_rows),
        decode_s=decode_s,
        teacher_s=teacher_s,
        train_s=train_s,
        tag_s=tag_s,
        index_s=index_s,
        total_s=total_s,
    )
