"""The int8-packed encoder layout: round trip, integrity checks, and how the encoder resolves it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.retrieval import encoder as encoder_mod
from drqa_ng.retrieval.encoder import TUNED_NAME, Encoder, resolve_model_dir
from drqa_ng.retrieval.packed import (
    SHARD_BYTES,
    is_packed,
    pack_encoder,
    pack_tensors,
    quantize_rows,
    read_packed,
    unpack_encoder,
    unpack_tensors,
)

TEXTS = ["The Nile is the longest river in Africa.", "Berlin is the capital of Germany.", "river"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_rows_quantise_within_half_a_step() -> None:
    w = np.random.default_rng(0).normal(size=(50, 70)).astype(np.float32)
    w[3] = 0.0  # an all-zero row must not divide by zero
    q, scale = quantize_rows(w)
    assert q.dtype == np.int8 and scale.shape == (50,)
    back = q.astype(np.float32) * scale[:, None]
    assert np.all(np.abs(back - w) <= scale[:, None] / 2 + 1e-7)
    assert np.all(back[3] == 0)


def test_small_and_integer_tensors_are_kept_as_they_are() -> None:
    tensors: dict[str, np.ndarray] = {
        "big": np.ones((64, 64), np.float32),
        "bias": np.arange(5, dtype=np.float32),
        "ids": np.arange(4096 * 2, dtype=np.int64).reshape(2, -1),
    }
    stored = pack_tensors(tensors)
    assert set(stored) == {"big.int8", "big.scale", "bias", "ids"}
    back = unpack_tensors(stored)
    assert set(back) == set(tensors)
    np.testing.assert_array_equal(back["ids"], tensors["ids"])
    np.testing.assert_allclose(back["big"], 1.0)
    with pytest.raises(IndexFormatError, match="row scales"):
        unpack_tensors({"w.int8": stored["big.int8"]})


def test_packed_encoder_round_trips_and_encodes_like_the_original(
    tiny_encoder_dir: Path, tmp_path: Path, cache: Path
) -> None:
    manifest = pack_encoder(tiny_encoder_dir, tmp_path / "packed", "tiny")
    assert is_packed(tmp_path / "packed") and not is_packed(tiny_encoder_dir)
    assert all(s.bytes < SHARD_BYTES for s in manifest.shards)
    assert not (tmp_path / "packed" / "model.safetensors").exists()
    folder = unpack_encoder(tmp_path / "packed", cache)
    assert unpack_encoder(tmp_path / "packed", cache) == folder  # once, then reused
    a = Encoder.load(tiny_encoder_dir).encode(TEXTS)
    b = Encoder.load(folder).encode(TEXTS)
    assert np.min((a * b).sum(axis=1)) > 0.99
    # a packed folder given by path is unpacked on the way and recorded by its path
    name, resolved = resolve_model_dir(tmp_path / "packed")
    assert name == str((tmp_path / "packed").resolve()) and resolved.parent == cache / "drqa_ng" / "encoders"


def test_corrupt_or_foreign_packed_folders_are_refused(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    manifest = pack_encoder(tiny_encoder_dir, tmp_path / "packed", "tiny")
    shard = tmp_path / "packed" / manifest.shards[0].file
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="corrupt"):
        read_packed(tmp_path / "packed")
    shard.unlink()
    with pytest.raises(IndexFormatError, match="missing"):
        read_packed(tmp_path / "packed")
    path = tmp_path / "packed" / "manifest.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(IndexFormatError, match="version 99"):
        read_packed(tmp_path / "packed")
    with pytest.raises(NotFoundError, match=r"model\.safetensors"):
        pack_encoder(tmp_path / "packed", tmp_path / "again", "x")


def test_the_shipped_tuned_encoder_is_the_default_where_present(
    tiny_encoder_dir: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder_mod, "shipped_encoder_dir", lambda: tmp_path / "absent")
    assert resolve_model_dir(None)[0] == "default"
    with pytest.raises(NotFoundError, match="tuned encoder is missing"):
        resolve_model_dir(TUNED_NAME)
    pack_encoder(tiny_encoder_dir, tmp_path / "shipped", TUNED_NAME)
    monkeypatch.setattr(encoder_mod, "shipped_encoder_dir", lambda: tmp_path / "shipped")
    name, folder = resolve_model_dir(None)
    assert name == TUNED_NAME and (folder / "model.safetensors").is_file()
    assert resolve_model_dir(TUNED_NAME) == (TUNED_NAME, folder)
    assert resolve_model_dir("default")[0] == "default"  # indexes built before keep their encoder
    assert Encoder.load(None).name == TUNED_NAME
