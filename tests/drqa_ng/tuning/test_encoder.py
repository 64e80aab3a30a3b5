"""Encoder tuning: the loss and rank functions, a static table that learns, exact resume, a transformer."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.config import base_encoder_dir
from drqa_ng.errors import InputError
from drqa_ng.retrieval.pairs import TrainPair
from drqa_ng.tuning.encoder import TuneConfig, _StaticModel, info_nce, reciprocal_ranks, tune_encoder

TOPICS = [
    "river",
    "mountain",
    "planet",
    "composer",
    "beverage",
    "spaceflight",
    "language",
    "island",
    "volcano",
    "desert",
    "bridge",
    "castle",
    "glacier",
    "forest",
    "canyon",
    "harbour",
]


def test_info_nce_matches_its_formula() -> None:
    import torch

    rng = np.random.default_rng(0)
    q, p = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    s = 7.0 * qn @ pn.T
    expected = -np.mean([s[i, i] - math.log(np.exp(s[i]).sum()) for i in range(3)])
    got = float(info_nce(torch.tensor(q), torch.tensor(p), 7.0))
    assert got == pytest.approx(expected, rel=1e-5)
    aligned = torch.eye(3, 4)
    assert float(info_nce(aligned, aligned, 50.0)) < 1e-6


def test_reciprocal_ranks_count_ties_against_the_positive() -> None:
    q = np.array([[1.0, 0.0], [0.0, 2.0]])
    # q0's positive p0 ties with the negative p2; q1's positive p1 is the best of all rows
    p = np.array([[3.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(reciprocal_ranks(q, p, 2), [0.5, 1.0])


def _tiny_static(folder: Path, dim: int = 8) -> Path:
    """A static model folder: the MiniLM tokenizer and a random table (one row per vocabulary id)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    shutil.copyfile(base_encoder_dir() / "tokenizer.json", folder / "tokenizer.json")
    table = np.random.default_rng(0).normal(size=(30522, dim)).astype(np.float16)
    save_file({"embeddings": table}, str(folder / "model.safetensors"))
    return folder


def _pairs(n: int = 96) -> list[TrainPair]:
    """Questions that name a topic word and a number; the positive shares both, negatives share neither."""
    out = []
    for i in range(n):
        t, u = TOPICS[i % len(TOPICS)], TOPICS[(i + 5) % len(TOPICS)]
        out.append(
            TrainPair(
                f"q{i}",
                "synthetic",
                f"which {t} is number {i}?",
                f"the {t} numbered {i} is famous",
                (f"a {u} called {i + 1000} is elsewhere",),
            )
        )
    return out


@pytest.fixture()
def static_dir(tmp_path: Path) -> Path:
    return _tiny_static(tmp_path / "static")


def test_static_tuning_learns_and_keeps_the_best_model(static_dir: Path, tmp_path: Path) -> None:
    from drqa_ng.retrieval.static import StaticEncoder

    cfg = TuneConfig(kind="static", epochs=30, batch_size=16, lr=0.05, dev_share=0.2, eval_every=20, seed=1)
    res = tune_encoder(_pairs(), static_dir, tmp_path / "run", cfg, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert res.best_mrr > res.start_mrr and res.best_step > 0
    enc = StaticEncoder.load(res.model)  # the saved folder is a static model the index can use
    v = enc.encode(["which river is number 3?", "the river numbered 3 is famous"])
    assert v.shape == (2, 8) and float(v[0] @ v[1]) > 0.5
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["best_step"] == res.best_step


def test_an_interrupted_static_run_resumes_exactly(
    static_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.numpy import load_file

    cfg = TuneConfig(
        kind="static", epochs=3, batch_size=16, lr=0.05, dev_share=0.2, eval_every=4, save_minutes=0.0, seed=2
    )
    straight = tune_encoder(_pairs(), static_dir, tmp_path / "a", cfg, progress=False)
    real = _StaticModel.encode
    calls = {"n": 0}

    def dying(self: _StaticModel, ids: list[list[int]]) -> object:
        calls["n"] += 1
        if calls["n"] == 25:
            raise KeyboardInterrupt
        return real(self, ids)

    monkeypatch.setattr(_StaticModel, "encode", dying)
    with pytest.raises(KeyboardInterrupt):
        tune_encoder(_pairs(), static_dir, tmp_path / "b", cfg, progress=False)
    monkeypatch.setattr(_StaticModel, "encode", real)
    resumed = tune_encoder(_pairs(), static_dir, tmp_path / "b", cfg, progress=False)
    assert (resumed.steps, resumed.best_step) == (straight.steps, straight.best_step)
    a = load_file(str(straight.model / "model.safetensors"))["embeddings"]
    b = load_file(str(resumed.model / "model.safetensors"))["embeddings"]
    np.testing.assert_array_equal(a, b)
    other = TuneConfig(kind="static", epochs=3, batch_size=16, lr=0.01, dev_share=0.2, seed=2)
    with pytest.raises(InputError, match="other settings"):
        tune_encoder(_pairs(), static_dir, tmp_path / "b", other, progress=False)


def test_anchor_keeps_the_table_near_its_start(static_dir: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    start = load_file(str(static_dir / "model.safetensors"))["embeddings"].astype(np.float32)

    def drift(anchor: float, name: str) -> float:
        cfg = TuneConfig(
            kind="static",
            epochs=10,
            batch_size=16,
            lr=0.05,
            anchor=anchor,
            dev_share=0.2,
            eval_every=1000,
            seed=3,
        )
        tune_encoder(_pairs(), static_dir, tmp_path / name, cfg, progress=False)
        # the last state (ckpt), not the best model: the best may be the start itself
        from safetensors.numpy import load_file as lf

        end = lf(str(tmp_path / name / "ckpt" / "model.safetensors"))["embeddings"]
        return float(np.abs(end - start).sum())

    assert drift(5.0, "anchored") < 0.5 * drift(0.0, "free")


def test_bad_settings(static_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="batch size"):
        tune_encoder(_pairs(), static_dir, tmp_path / "x", TuneConfig(batch_size=1), progress=False)
    with pytest.raises(InputError, match="held-out"):
        tune_encoder(_pairs(4), static_dir, tmp_path / "y", TuneConfig(dev_share=0.0), progress=False)


def test_transformer_tuning_writes_an_encoder_folder(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    from drqa_ng.retrieval.encoder import Encoder

    cfg = TuneConfig(
        kind="transformer",
        epochs=1,
        batch_size=8,
        lr=1e-3,
        dev_share=0.2,
        dev_limit=8,
        max_steps=3,
        max_length=32,
        eval_every=2,
        seed=4,
    )
    res = tune_encoder(_pairs(48), tiny_encoder_dir, tmp_path / "run", cfg, progress=False)
    assert res.steps == 3
    enc = Encoder.load(res.model, backend="torch", device="cpu")
    v = enc.encode(["which river is number 3?"])
    assert v.shape == (1, 32)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
