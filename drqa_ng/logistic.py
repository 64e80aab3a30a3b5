"""Small standardised logistic models kept as plain JSON beside a reader (no pickle).

Two files share the shape: ``calibration.json`` (``drqa_ng.confidence.Calibration``) and
``answer_ranker.json`` (``drqa_ng.ranking.answers.RankerWeights``). Each owns its kind, version and
extra fields; this module holds what they have in common: the score, the checked JSON read/write,
and the parsing of the standardised-logistic fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from drqa_ng.errors import IndexFormatError

T = TypeVar("T")


def standardised_logit(
    x: np.ndarray, mean: Sequence[float], scale: Sequence[float], coef: Sequence[float], intercept: float
) -> np.ndarray:
    """z = b + Σ_i w_i (x_i - μ_i) / σ_i for each row of ``x`` (shape ``(n, len(coef))``)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, len(coef))
    return float(intercept) + ((x - np.asarray(mean)) / np.asarray(scale)) @ np.asarray(coef)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^-z)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def logistic_fields(d: Mapping[str, Any]) -> dict[str, Any]:
    """The standardised-logistic fields of a stored model: features, mean, scale, coef, intercept,
    plus the optional ``fitted_on`` and ``report``."""
    return {
        "features": tuple(d["features"]),
        "mean": tuple(float(v) for v in d["mean"]),
        "scale": tuple(float(v) for v in d["scale"]),
        "coef": tuple(float(v) for v in d["coef"]),
        "intercept": float(d["intercept"]),
        "fitted_on": str(d.get("fitted_on", "")),
        "report": dict(d.get("report", {})),
    }


def save_model_json(path: Path, kind: str, version: int, fields: Mapping[str, Any]) -> Path:
    """Write ``{"kind", "format_version", **fields}`` to ``path`` (temp file renamed into place)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(
        json.dumps({"kind": kind, "format_version": version, **fields}, indent=2) + "\n", encoding="utf-8"
    )
    tmp.replace(path)
    return path


def load_model_json(path: Path, kind: str, version: int, build: Callable[[dict[str, Any]], T]) -> T | None:
    """``build(data)`` of the JSON file at ``path``, or None when there is no such file. A file of
    another kind or version, or one that does not parse or build, raises IndexFormatError."""
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(d, dict) or d.get("kind") != kind or d.get("format_version") != version:
            raise IndexFormatError(f"{path}: not a version-{version} {kind} file")
        return build(d)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise IndexFormatError(f"{path} is corrupt: {e}") from e
