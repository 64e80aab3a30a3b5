"""The tiny ShuffleNet-style tagger: shapes, size, channel shuffle, BN folding, weights I/O, distillation."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.video.tagger import (
    TaggerConfig,
    TinyTagger,
    channel_shuffle,
    count_params,
    fold_batchnorm,
    load_tagger,
    save_tagger,
    tag_probs,
    train_distilled,
)


def test_channel_shuffle_known_permutation() -> None:
    x = torch.arange(6, dtype=torch.float32).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    with pytest.raises(ValueError):
        channel_shuffle(x, 4)


def test_output_shapes_and_param_budget() -> None:
    model = TinyTagger().eval()
    assert count_params(model) < 1_000_000
    with torch.no_grad():
        assert model(torch.rand(2, 3, 96, 96)).shape == (2, 3)
        assert model(torch.rand(1, 3, 128, 128)).shape == (1, 3)
    probs = tag_probs(model, [np.zeros((50, 70, 3), np.uint8)] * 3)
    assert probs.shape == (3, 3) and probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()


def test_grouped_pointwise_and_depthwise_convs_present() -> None:
    convs = [m for m in TinyTagger().modules() if isinstance(m, torch.nn.Conv2d)]
    assert any(c.kernel_size == (1, 1) and c.groups == 3 for c in convs)
    assert any(c.kernel_size == (3, 3) and c.groups == c.in_channels > 1 for c in convs)


def test_fold_batchnorm_keeps_outputs() -> None:
    model = TinyTagger()
    model.train()
    with torch.no_grad():  # give BN non-trivial running stats
        for _ in range(3):
            model(torch.rand(4, 3, 96, 96))
    model.eval()
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        ref = model(x)
        folded = fold_batchnorm(copy.deepcopy(model))
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        assert torch.allclose(folded(x), ref, atol=1e-4)


def test_save_load_roundtrip(tmp_path: Path) -> None:
    model = TinyTagger(TaggerConfig(tags=("a", "b"), input_size=64)).eval()
    save_tagger(model, tmp_path / "t.safetensors")
    back = load_tagger(tmp_path / "t.safetensors")
    assert back.config == model.config
    img = [np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)]
    assert np.allclose(tag_probs(back, img), tag_probs(model, img))
    (tmp_path / "bad.safetensors").write_bytes(b"not weights")
    with pytest.raises(IndexFormatError):
        load_tagger(tmp_path / "bad.safetensors")
    with pytest.raises(NotFoundError):
        load_tagger(tmp_path / "none.safetensors")


@pytest.mark.slow
def test_distillation_learns_a_separable_tag() -> None:
    rng = np.random.default_rng(0)
    imgs, ys = [], []
    for i in range(32):
        bright = i % 2 == 0
        base = 200 if bright else 40
        imgs.append(np.clip(rng.normal(base, 15, (48, 48, 3)), 0, 255).astype(np.uint8))
        ys.append([1.0 if bright else 0.0])
    cfg = TaggerConfig(tags=("bright",), input_size=48, widths=(48, 96, 192), repeats=(1, 1, 1))
    model = train_distilled(imgs, np.array(ys), config=cfg, epochs=12, lr=5e-3, batch_size=16)
    p = tag_probs(model, imgs)[:, 0]
    labels = np.array(ys)[:, 0]
    assert p[labels == 1].min() > p[labels == 0].max()


def test_shipped_weights_load_and_are_small() -> None:
    from drqa_ng.video.nas import SearchedTagger
    from drqa_ng.video.tagger import shipped_tagger_path
    from drqa_ng.video.taggers import load_any_tagger

    path = shipped_tagger_path()
    assert path.is_file() and path.stat().st_size < 1_000_000
    model = load_any_tagger(path)
    assert isinstance(model, SearchedTagger)  # the search's tagger won on the validation videos
    assert model.config.tags == ("face", "person", "text") and count_params(model) < 1_000_000
