"""The shipped (tuned, int8) static model: its file layout, quantisation error and name resolution."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.config import base_encoder_dir
from drqa_ng.errors import NotFoundError
from drqa_ng.retrieval import static
from drqa_ng.retrieval.static import (
    DEFAULT_STATIC_NAME,
    TUNED_STATIC_NAME,
    StaticEncoder,
    quantize_static,
    read_table,
    resolve_static_dir,
    shipped_static_dir,
)


def _fp16_model(folder: Path) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    shutil.copyfile(base_encoder_dir() / "tokenizer.json", folder / "tokenizer.json")
    table = np.random.default_rng(0).normal(size=(30522, 64)).astype(np.float16)
    save_file({"embeddings": table}, str(folder / "model.safetensors"))
    return folder


def test_int8_copy_encodes_like_the_original(tmp_path: Path) -> None:
    src = _fp16_model(tmp_path / "fp16")
    out = quantize_static(src, tmp_path / "int8")
    assert (out / "model.safetensors").stat().st_size < 0.6 * (src / "model.safetensors").stat().st_size
    texts = ["Who discovered penicillin?", "Jupiter is the fifth planet from the Sun.", "tea"]
    a, b = StaticEncoder.load(src).encode(texts), StaticEncoder.load(out).encode(texts)
    np.testing.assert_allclose((a * b).sum(axis=1), 1.0, atol=2e-3)  # cosine to the fp16 vectors


def test_read_table_layouts() -> None:
    e = np.arange(6, dtype=np.float16).reshape(3, 2)
    np.testing.assert_array_equal(read_table({"embeddings": e}), e.astype(np.float32))
    q = np.array([[1, -2], [3, 4]], dtype=np.int8)
    s = np.array([0.5, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(read_table({"embeddings_int8": q, "scales": s}), [[0.5, -1.0], [6.0, 8.0]])
    assert read_table({"embeddings_int8": q}) is None
    assert read_table({"embeddings_int8": q, "scales": s[:1]}) is None


def test_names_resolve_to_the_shipped_and_the_distilled_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = quantize_static(_fp16_model(tmp_path / "fp16"), tmp_path / "shipped")
    monkeypatch.setattr(static, "shipped_static_dir", lambda: shipped)
    assert resolve_static_dir(None) == (TUNED_STATIC_NAME, shipped)
    assert resolve_static_dir(TUNED_STATIC_NAME) == (TUNED_STATIC_NAME, shipped)
    distilled = _fp16_model(tmp_path / "cache" / "minilm-pca256")
    name, folder = resolve_static_dir(DEFAULT_STATIC_NAME, cache_dir=tmp_path / "cache")
    assert (name, folder) == (DEFAULT_STATIC_NAME, distilled)  # old homes keep their own model
    monkeypatch.setattr(static, "shipped_static_dir", lambda: tmp_path / "absent")
    with pytest.raises(NotFoundError, match="shipped static model"):
        resolve_static_dir(TUNED_STATIC_NAME)
    assert resolve_static_dir(None, cache_dir=tmp_path / "cache") == (DEFAULT_STATIC_NAME, distilled)


def test_the_package_ships_a_tuned_static_model() -> None:
    enc = StaticEncoder.load(TUNED_STATIC_NAME)
    assert enc.name == TUNED_STATIC_NAME and enc.folder == shipped_static_dir()
    assert enc.dim == 256 and (shipped_static_dir() / "model.safetensors").stat().st_size < 10_000_000
    q, p, other = enc.encode(
        [
            "What is the capital of Germany?",
            "Germany\nBerlin is the capital of Germany.",
            "Tea\nTea is an aromatic beverage.",
        ]
    )
    assert float(q @ p) > float(q @ other)
