from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.index_io import read_manifest
from drqa_ng.reading.model import MODEL_KIND, init_model, load_model, save_model


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = torch.tensor([[101, 2129, 102, 3000, 4000, 102, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0]])
    types = torch.tensor([[0, 0, 0, 1, 1, 1, 0]])
    return ids, mask, types


def test_save_load_round_trip_keeps_logits(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = init_model(tiny_encoder_dir).eval()
    save_model(model, tiny_encoder_dir, tmp_path / "m", max_length=64, stride=16, note="x")
    m = read_manifest(tmp_path / "m", MODEL_KIND)
    assert (m["max_length"], m["note"]) == (64, "x")
    again = load_model(tmp_path / "m")
    with torch.inference_mode():
        a = model(*_inputs())
        b = again(*_inputs())
    assert a[0].shape == (1, 7)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])


def test_init_model_loads_encoder_weights(tiny_encoder_dir: Path) -> None:
    from safetensors.torch import load_file

    model = init_model(tiny_encoder_dir)
    want = load_file(str(tiny_encoder_dir / "model.safetensors"))["embeddings.word_embeddings.weight"]
    torch.testing.assert_close(model.encoder.embeddings.word_embeddings.weight.detach(), want)  # type: ignore[union-attr]


def test_missing_and_corrupt_model_folders(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        init_model(tmp_path / "nothing")
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    (bad / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(IndexFormatError):
        load_model(bad)
