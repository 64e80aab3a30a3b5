"""``ReaderManifest``: the one owner of a reader folder's manifest.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drqa_ng.errors import IndexFormatError
from drqa_ng.reading.formats import MODEL_KIND, ONNX_KIND
from drqa_ng.reading.manifest import OnnxPart, ReaderManifest
from drqa_ng.reading.reader import default_weights_dir


def test_shipped_manifest_is_typed_and_rewrites_to_the_same_bytes(tmp_path: Path) -> None:
    shipped = default_weights_dir()
    m = ReaderManifest.load(shipped)
    assert m.kind == ONNX_KIND and m.precision == "int8" and m.max_length == 256 and m.stride == 96
    assert m.parts and all(isinstance(p, OnnxPart) for p in m.parts)
    assert sum(p.bytes for p in m.parts) == m.model_bytes
    assert "validation_eval" in m.extra and "recipe" in m.extra  # provenance kept as it is
    m.save(tmp_path)
    assert (tmp_path / "manifest.json").read_bytes() == (shipped / "manifest.json").read_bytes()


def test_with_fields_types_known_keys_and_keeps_the_rest(tmp_path: Path) -> None:
    m = ReaderManifest.new(MODEL_KIND, max_length=128, stride=32, recipe="tiny", continued_from=None)
    assert (m.max_length, m.stride, m.extra) == (128, 32, {"recipe": "tiny", "continued_from": None})
    m2 = m.with_fields(steps=7, note="x")
    assert m2.steps == 7 and m2.extra["note"] == "x" and m2.max_length == 128
    m2.save(tmp_path)
    assert ReaderManifest.load(tmp_path, MODEL_KIND) == m2
    with pytest.raises(IndexFormatError, match="max_length"):
        m.with_fields(max_length="long")


def test_load_refuses_other_kinds_versions_and_bad_fields(tmp_path: Path) -> None:
    def write(**data: object) -> Path:
        (tmp_path / "manifest.json").write_text(json.dumps(data))
        return tmp_path

    with pytest.raises(IndexFormatError, match="not a reader"):
        ReaderManifest.load(write(kind="sparse", format_version=1))
    with pytest.raises(IndexFormatError, match="version"):
        ReaderManifest.load(write(kind=ONNX_KIND, format_version=99))
    with pytest.raises(IndexFormatError, match="parts"):
        ReaderManifest.load(write(kind=ONNX_KIND, format_version=1, parts=[{"file": "a"}]))
    with pytest.raises(IndexFormatError, match="reader-model"):
        ReaderManifest.load(write(kind=ONNX_KIND, format_version=1), MODEL_KIND)


def test_onnx_folder_with_a_tampered_part_list_fails_to_load(tmp_path: Path) -> None:
    from drqa_ng.reading.onnx_io import read_onnx_bytes

    folder = tmp_path / "w"
    shutil.copytree(default_weights_dir(), folder)
    m = ReaderManifest.load(folder)
    ReaderManifest.new(ONNX_KIND, **{**m.to_json(), "parts": []}).save(folder)
    with pytest.raises(IndexFormatError, match="no model parts"):
        read_onnx_bytes(folder)
