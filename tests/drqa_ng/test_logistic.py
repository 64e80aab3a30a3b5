"""drqa_ng.logistic: the score and the checked JSON files shared by the calibration and the answer ranker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError
from drqa_ng.logistic import load_model_json, logistic_fields, save_model_json, sigmoid, standardised_logit


def test_standardised_logit_matches_the_formula() -> None:
    x = np.array([[1.0, 4.0], [3.0, 0.0]])
    z = standardised_logit(x, mean=(1.0, 2.0), scale=(2.0, 4.0), coef=(0.5, -1.0), intercept=0.25)
    assert z.tolist() == pytest.approx([0.25 + 0.0 - 0.5, 0.25 + 0.5 + 0.5])
    assert sigmoid(np.array([0.0]))[0] == pytest.approx(0.5)


def test_round_trip_and_missing_file(tmp_path: Path) -> None:
    fields = {"features": ["a"], "mean": [0], "scale": [1], "coef": [2], "intercept": 1, "extra": 3}
    path = save_model_json(tmp_path / "m.json", "k", 1, fields)
    assert not list(tmp_path.glob("*.tmp"))
    got = load_model_json(path, "k", 1, lambda d: (logistic_fields(d), d["extra"]))
    assert got == ({"features": ("a",), "mean": (0.0,), "scale": (1.0,), "coef": (2.0,), "intercept": 1.0,
                    "fitted_on": "", "report": {}}, 3)  # fmt: skip
    assert load_model_json(tmp_path / "none.json", "k", 1, dict) is None


@pytest.mark.parametrize(
    "text",
    [
        '{"kind": "other", "format_version": 1}',
        '{"kind": "k", "format_version": 2}',
        "[1, 2]",
        "{cut",
        "\udcff",
    ],
)
def test_bad_files_raise_a_format_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(IndexFormatError):
        load_model_json(path, "k", 1, logistic_fields)


def test_a_file_missing_a_field_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"kind": "k", "format_version": 1, "mean": [0]}))
    with pytest.raises(IndexFormatError, match="corrupt"):
        load_model_json(path, "k", 1, logistic_fields)
