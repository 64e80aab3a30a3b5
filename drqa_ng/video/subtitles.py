"""Subtitle cues from SRT / WebVTT files and from text subtitle streams inside a container.

The parsers are written here rather than taken from pysrt / webvtt-py: both formats are a few
lines of grammar, and we want tolerant, precise error reporting (skip one bad cue with a warning
naming the file and line; fail with ``DataFormatError`` only when nothing usable is left), which
those libraries do not give (pysrt silently drops, webvtt-py raises on the first bad cue).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import DataFormatError, NotFoundError

log = logging.getLogger(__name__)

SUBTITLE_SUFFIXES = (".srt", ".vtt")

# Hours optional (WebVTT allows mm:ss.ttt); SRT uses a comma before milliseconds, VTT a dot.
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]*>")
_ASS_OVERRIDE = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle cue: shown from ``start`` to ``end`` seconds; ``text`` is plain text (markup removed)."""

    start: float
    end: float
    text: str


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000.0


def clean_cue_text(text: str) -> str:
    """Drop markup (``<i>``, ``<c.x>``, ``{\\an8}``), unescape entities, join lines with spaces."""
    text = _ASS_OVERRIDE.sub("", _TAG.sub("", text))
    text = html.unescape(text).replace("\\N", " ").replace("\\n", " ")
    return " ".join(text.split())


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8; reading it as cp1252", source)
        return raw.decode("cp1252", errors="replace")


def _parse_blocks(text: str, source: str, *, vtt: bool) -> list[Cue]:
    """Shared grammar: blocks separated by blank lines; a block's timing line holds ``-->``."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[Cue] = []
    bad = 0
    i = 0
    n = len(lines)
    if vtt:
        if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
            raise DataFormatError(f"{source}: not a WebVTT file (first line must start with WEBVTT)")
        # Header block runs to the first blank line.
        while i < n and lines[i].strip():
            i += 1
    while i < n:
        while i < n and not lines[i].strip():
            i += 1
        if i >= n:
            break
        block_start = i
        block: list[str] = []
        while i < n and lines[i].strip():
            block.append(lines[i])
            i += 1
        head = block[0].strip()
        if vtt and (head.startswith("NOTE") or head in ("STYLE", "REGION")):
            continue
        timing_at = next((j for j, line in enumerate(block[:2]) if "-->" in line), None)
        if timing_at is None:
            bad += 1
            log.warning("%s:%d: skipping a cue without a timing line: %r", source, block_start + 1, head[:60])
            continue
        m = _TIMING.match(block[timing_at])
        if m is None:
            bad += 1
            log.warning(
                "%s:%d: skipping a cue with a malformed timing line: %r",
                source,
                block_start + timing_at + 1,
                block[timing_at].strip()[:60],
            )
            continue
        g = m.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        if end < start:
            bad += 1
            log.warning(
                "%s:%d: skipping a cue that ends before it starts", source, block_start + timing_at + 1
            )
            continue
        body = clean_cue_text("\n".join(block[timing_at + 1 :]))
        if body:
            cues.append(Cue(start, end, body))
    if not cues and (bad or text.strip().replace("WEBVTT", "").strip()):
        raise DataFormatError(f"{source}: no valid subtitle cues ({bad} malformed)")
    cues.sort(key=lambda c: (c.start, c.end))
    return cues


def parse_srt(text: str, source: str = "<srt>") -> list[Cue]:
    """Parse SubRip text. Bad cues are skipped with a warning; no valid cue at all raises DataFormatError."""
    return _parse_blocks(text, source, vtt=False)


def parse_vtt(text: str, source: str = "<vtt>") -> list[Cue]:
    """Parse WebVTT text (NOTE/STYLE/REGION blocks ignored, cue settings dropped); same error policy as SRT."""
    return _parse_blocks(text, source, vtt=True)


def load_subtitles(path: Path) -> list[Cue]:
    """Read an ``.srt`` or ``.vtt`` file into cues sorted by start time."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"subtitle file not found: {path}")
    text = _decode(path.read_bytes(), str(path))
    if path.suffix.lower() == ".vtt":
        return parse_vtt(text, str(path))
    if path.suffix.lower() == ".srt":
        return parse_srt(text, str(path))
    raise DataFormatError(f"{path}: unknown subtitle format (expected .srt or .vtt)")


def find_sidecar(video: Path) -> Path | None:
    """The subtitle file beside ``video`` with the same stem (``.srt`` preferred over ``.vtt``), if any."""
    for suffix in SUBTITLE_SUFFIXES:
        for cand in (video.with_suffix(suffix), video.with_suffix(suffix.upper())):
            if cand.is_file():
                return cand
    return None


TEXT_SUBTITLE_CODECS = ("subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text")
IMAGE_SUBTITLE_CODECS = (
    "hdmv_pgs_subtitle",
    "pgssub",
    "dvd_subtitle",
    "dvdsub",
    "dvb_subtitle",
    "dvbsub",
    "xsub",
)


def embedded_text_cues(video: Path) -> tuple[list[Cue], list[str]]:
    """Cues from the first text subtitle stream of ``video`` (via PyAV) and the codecs of image-based ones.

    Returns ``(cues, image_codecs)``: ``cues`` is empty when there is no text stream; image-based
    streams (PGS, DVD) are only reported, since turning them into text needs OCR.
    """
    import av  # lazy: PyAV is only needed when ingesting video

    cues: list[Cue] = []
    image_codecs: list[str] = []
    with av.open(str(video)) as container:
        text_stream = None
        for s in container.streams.subtitles:
            name = s.codec_context.name
            if name in TEXT_SUBTITLE_CODECS and text_stream is None:
                text_stream = s
            elif name in IMAGE_SUBTITLE_CODECS:
                image_codecs.append(name)
        if text_stream is None:
            return [], image_codecs
        tb = text_stream.time_base
        ctx = text_stream.codec_context
        for packet in container.demux(text_stream):
            if packet.pts is None or tb is None or packet.size == 0:
                continue
            base = float(packet.pts * tb)
            duration = float(packet.duration * tb) if packet.duration else 0.0
            sub = ctx.decode2(packet)
            if sub is None:
                continue
            start = base + sub.start_display_time / 1000.0
            end = base + (sub.end_display_time / 1000.0 if sub.end_display_time else duration)
            parts = []
            for rect in sub:
                # Text rects come as ASS events; ``dialogue`` is the event's text field.
                raw = getattr(rect, "dialogue", b"") or getattr(rect, "text", b"") or b""
                parts.append(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
            body = clean_cue_text(" ".join(parts))
            if body:
                cues.append(Cue(start, max(end, start), body))
    cues.sort(key=lambda c: (c.start, c.end))
    return cues, image_codecs


def cues_text(cues: Sequence[Cue]) -> str:
    """All cue texts joined by single spaces (the per-video transcript)."""
    return " ".join(c.text for c in cues)
