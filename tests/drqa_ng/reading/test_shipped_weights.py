from __future__ import annotations

import json

import pytest

from drqa_ng.reading.reader import default_weights_dir, load_reader
from drqa_ng.types import Passage


def test_shipped_weights_load_and_answer_a_trivial_question() -> None:
    folder = default_weights_dir()
    if not (folder / "manifest.json").is_file():
        pytest.skip(f"no shipped reader weights in {folder}")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["precision"] == "int8"
    assert sum(p["bytes"] for p in manifest["parts"]) <= 30 * 2**20
    reader = load_reader()
    assert reader.backend == "onnx"
    text = "The Eiffel Tower was completed in 1889. It is located in Paris, the capital of France."
    p = Passage(id="e#p0", doc_id="e", title="Eiffel Tower", text=text, start=0, end=len(text))
    [[a]] = reader.read(["In what year was the Eiffel Tower completed?"], [[p]])
    assert a.text == "1889"
    assert text[a.start : a.end] == a.text
