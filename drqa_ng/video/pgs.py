"""Image-based subtitle streams (Blu-ray PGS, DVD) turned into text cues with Tesseract OCR.

PyAV hands each PGS display set over as 8-bit palette-index bitmaps without the palette, so
colours are unknown. The most frequent index is the transparent background and, in rendered
subtitle text, the second most frequent is the glyph fill (outline and anti-aliasing use fewer
pixels); OCR on "fill index = black, everything else = white" read the Popeye clips' subtitles
almost verbatim, where OCR of every non-background pixel merged fill and outline and misread.
A display set with no rectangles clears the screen: it ends the previous cue.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from drqa_ng.errors import UnsupportedError
from drqa_ng.video.subtitles import IMAGE_SUBTITLE_CODECS, Cue, clean_cue_text

log = logging.getLogger(__name__)

MAX_CUE_S = 10.0
"""A cue whose clearing event never comes is cut after this many seconds."""


def bitmap_to_ink(indices: np.ndarray) -> np.ndarray:
    """Palette-index bitmap (H, W) -> grayscale image with the glyph-fill index black on white."""
    counts = Counter(indices.ravel().tolist()).most_common(2)
    if len(counts) < 2:
        return np.full(indices.shape, 255, np.uint8)
    fill = counts[1][0]
    return np.where(indices == fill, 0, 255).astype(np.uint8)


def _ocr(ink: np.ndarray, lang: str) -> str:
    import cv2  # lazy
    import pytesseract  # lazy

    # Subtitle bitmaps are 1080p-sized glyphs: halving them puts letters near Tesseract's
    # preferred height, and a white margin keeps the first letters from touching the border.
    img = cv2.resize(ink, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    img = cv2.copyMakeBorder(img, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
    text: str = pytesseract.image_to_string(img, lang=lang, config="--psm 6")
    return text


def ocr_image_subtitles(video: Path, lang: str = "eng") -> list[Cue]:
    """OCR the first image-based subtitle stream of ``video`` into cues (empty when there is none).

    Raises UnsupportedError when tesseract is not installed.
    """
    import av  # lazy
    from av.subtitles.subtitle import BitmapSubtitle

    if shutil.which("tesseract") is None:
        raise UnsupportedError("OCR of image subtitles needs tesseract (apt-get install tesseract-ocr)")
    cues: list[Cue] = []
    with av.open(str(video)) as container:
        stream = next(
            (s for s in container.streams.subtitles if s.codec_context.name in IMAGE_SUBTITLE_CODECS), None
        )
        if stream is None or stream.time_base is None:
            return []
        tb = stream.time_base
        ctx = stream.codec_context
        open_cue: tuple[float, str] | None = None
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            sub = ctx.decode2(packet)
            if sub is None:
                continue
            t = float(packet.pts * tb) + sub.start_display_time / 1000.0
            if open_cue is not None:
                start, text = open_cue
                cues.append(Cue(start, min(t, start + MAX_CUE_S), text))
                open_cue = None
            parts: list[str] = []
            for rect in sub:
                if (
                    not isinstance(rect, BitmapSubtitle)
                    or rect.height <= 0
                    or rect.width <= 0
                    or not rect.planes
                ):
                    continue
                plane = rect.planes[0]
                stride = plane.buffer_size // rect.height
                buf = np.frombuffer(bytes(plane), dtype=np.uint8)  # type: ignore[call-overload]
                indices = buf[: stride * rect.height].reshape(rect.height, stride)[:, : rect.width]
                parts.append(_ocr(bitmap_to_ink(indices), lang))
            text = clean_cue_text(" ".join(parts))
            if text:
                open_cue = (t, text)
        if open_cue is not None:
            start, text = open_cue
            cues.append(Cue(start, start + MAX_CUE_S, text))
    log.info("%s: OCR read %d cues from image subtitles", video, len(cues))
    return cues
