"""Heavy, offline frame recognisers behind one ``Recognizer`` protocol (``drqa_ng.protocols``).

- ``OcrRecognizer``: Tesseract via pytesseract (words with confidence >= ``min_conf``).
- ``HaarRecognizer``: OpenCV's bundled Haar cascades for frontal faces and full/upper bodies.
- ``ClassifierRecognizer``: a torchvision image classifier from a LOCAL weights file (needs torchvision).
- ``CompositeRecognizer``: runs several and concatenates their detections.

They are slow compared with the tiny tagger, which is why the video pipeline calls them only on
frames of retrieved segments (and on a small sample of frames when distilling the tagger).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drqa_ng.errors import NotFoundError, UnsupportedError
from drqa_ng.protocols import Recognizer
from drqa_ng.types import Detection

__all__ = [
    "ClassifierRecognizer",
    "CompositeRecognizer",
    "Detection",
    "HaarRecognizer",
    "OcrRecognizer",
    "Recognizer",
    "default_recognizer",
    "labels_of",
]

log = logging.getLogger(__name__)


def labels_of(detections: Sequence[Detection], tags: Sequence[str]) -> np.ndarray:
    """Multi-hot vector over ``tags``: 1 where some detection carries that label (distillation target)."""
    found = {d.label for d in detections}
    return np.array([1.0 if t in found else 0.0 for t in tags], dtype=np.float32)


class OcrRecognizer:
    """Tesseract OCR: one "text" detection per line of words with mean confidence >= ``min_conf``."""

    def __init__(self, lang: str = "eng", min_conf: float = 60.0, min_chars: int = 3) -> None:
        if shutil.which("tesseract") is None:
            raise UnsupportedError("tesseract is not installed (apt-get install tesseract-ocr)")
        self.lang = lang
        self.min_conf = min_conf
        self.min_chars = min_chars

    @property
    def name(self) -> str:
        return "tesseract"

    def recognize(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        import pytesseract  # lazy: only the OCR path needs it

        out: list[list[Detection]] = []
        for img in frames:
            data = pytesseract.image_to_data(img, lang=self.lang, output_type=pytesseract.Output.DICT)
            lines: dict[tuple[int, int, int], list[int]] = {}
            for i, word in enumerate(data["text"]):
                conf = float(data["conf"][i])
                if word.strip() and conf >= 0:
                    key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
                    lines.setdefault(key, []).append(i)
            dets: list[Detection] = []
            for idx in lines.values():
                words = [data["text"][i].strip() for i in idx]
                conf = float(np.mean([float(data["conf"][i]) for i in idx]))
                text = " ".join(words)
                if conf < self.min_conf or sum(ch.isalnum() for ch in text) < self.min_chars:
                    continue
                x0 = min(data["left"][i] for i in idx)
                y0 = min(data["top"][i] for i in idx)
                x1 = max(data["left"][i] + data["width"][i] for i in idx)
                y1 = max(data["top"][i] + data["height"][i] for i in idx)
                dets.append(Detection("text", conf / 100.0, (x0, y0, x1 - x0, y1 - y0), text))
            out.append(dets)
        return out


class HaarRecognizer:
    """OpenCV Haar cascades: "face" (frontal face) and "person" (full body, upper body)."""

    CASCADES: tuple[tuple[str, str], ...] = (
        ("face", "haarcascade_frontalface_default.xml"),
        ("person", "haarcascade_fullbody.xml"),
        ("person", "haarcascade_upperbody.xml"),
    )

    def __init__(self, min_neighbors: int = 5, max_side: int = 640) -> None:
        import cv2  # lazy

        self.min_neighbors = min_neighbors
        self.max_side = max_side
        self._cascades: list[tuple[str, cv2.CascadeClassifier]] = []
        for label, fname in self.CASCADES:
            path = Path(cv2.data.haarcascades) / fname  # type: ignore[attr-defined]
            clf = cv2.CascadeClassifier(str(path))
            if clf.empty():
                raise NotFoundError(f"OpenCV Haar cascade missing: {path}")
            self._cascades.append((label, clf))

    @property
    def name(self) -> str:
        return "haar"

    def recognize(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        import cv2  # lazy

        out: list[list[Detection]] = []
        for img in frames:
            gray = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
            scale = min(1.0, self.max_side / max(gray.shape))
            if scale < 1.0:
                gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            dets: list[Detection] = []
            for label, clf in self._cascades:
                boxes, _, weights = clf.detectMultiScale3(
                    gray,
                    scaleFactor=1.1,
                    minNeighbors=self.min_neighbors,
                    minSize=(24, 24),
                    outputRejectLevels=True,
                )
                for (x, y, w, h), wt in zip(boxes, np.ravel(weights), strict=False):
                    # Cascade level weights are unbounded margins; squash them into (0, 1).
                    score = float(1.0 / (1.0 + np.exp(-float(wt))))
                    box = (int(x / scale), int(y / scale), int(w / scale), int(h / scale))
                    dets.append(Detection(label, score, box))
            out.append(dets)
        return out


class ClassifierRecognizer:
    """A torchvision classifier (``arch``, e.g. "mobilenet_v3_small") with weights from a local file.

    ``weights`` is a state dict (safetensors or a ``torch.save`` file read with ``weights_only``);
    ``labels`` a text file with one class name per line. Nothing is downloaded. The top-``top_k``
    classes with probability >= ``min_prob`` become detections over the whole frame.
    """

    def __init__(self, arch: str, weights: Path, labels: Path, top_k: int = 3, min_prob: float = 0.2) -> None:
        try:
            import torchvision
        except ImportError as e:
            raise UnsupportedError(
                "the classifier recogniser needs torchvision, which is not installed"
            ) from e
        import torch

        weights, labels = Path(weights), Path(labels)
        for p in (weights, labels):
            if not p.is_file():
                raise NotFoundError(f"classifier file not found: {p}")
        self.labels = [ln.strip() for ln in labels.read_text().splitlines() if ln.strip()]
        self.model = torchvision.models.get_model(arch, weights=None, num_classes=len(self.labels))
        if weights.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(weights))
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state)
        self.model.eval()
        self.top_k = top_k
        self.min_prob = min_prob

    @property
    def name(self) -> str:
        return "classifier"

    def recognize(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        import torch

        from drqa_ng.video.tagger import preprocess

        x = preprocess(frames, 224)
        x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
            [0.229, 0.224, 0.225]
        ).view(1, 3, 1, 1)
        with torch.inference_mode():
            probs = torch.softmax(self.model(x), dim=1).numpy()
        out: list[list[Detection]] = []
        for img, p in zip(frames, probs, strict=True):
            h, w = img.shape[:2]
            top = np.argsort(-p)[: self.top_k]
            out.append(
                [Detection(self.labels[i], float(p[i]), (0, 0, w, h)) for i in top if p[i] >= self.min_prob]
            )
        return out


class CompositeRecognizer:
    """Runs each recogniser on the same frames and concatenates the detections per frame."""

    def __init__(self, parts: Sequence[Recognizer]) -> None:
        self.parts = list(parts)

    @property
    def name(self) -> str:
        return "+".join(p.name for p in self.parts)

    def recognize(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        out: list[list[Detection]] = [[] for _ in frames]
        for part in self.parts:
            for acc, dets in zip(out, part.recognize(frames), strict=True):
                acc.extend(dets)
        return out


def default_recognizer() -> Recognizer:
    """Haar faces/people plus Tesseract OCR when tesseract is installed (else Haar only, with a warning)."""
    parts: list[Recognizer] = [HaarRecognizer()]
    try:
        parts.append(OcrRecognizer())
    except UnsupportedError as e:
        log.warning("%s; recognising faces and people only", e)
    return CompositeRecognizer(parts)
