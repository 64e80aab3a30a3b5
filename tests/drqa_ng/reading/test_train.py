from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.index_io import read_manifest
from drqa_ng.reading.data import QAExample
from drqa_ng.reading.reader import load_reader
from drqa_ng.reading.train import TrainConfig, bucketed_batches, train_reader

FACTS = [
    ("Paris is the capital of France.", "What is the capital of France?", "Paris"),
    ("The Nile flows through Egypt.", "What river flows through Egypt?", "Nile"),
    ("Einstein developed relativity.", "Who developed relativity?", "Einstein"),
    ("Tokyo hosted the 1964 Olympics.", "Which city hosted the 1964 Olympics?", "Tokyo"),
    ("Water boils at 100 degrees.", "At what temperature does water boil?", "100 degrees"),
    ("Mozart composed The Magic Flute.", "Who composed The Magic Flute?", "Mozart"),
]


def _examples() -> list[QAExample]:
    return [
        QAExample(id=str(i), question=q, context=c, answers=(a,), answer_starts=(c.index(a),))
        for i, (c, q, a) in enumerate(FACTS)
    ]


def _losses(run: Path) -> list[float]:
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def _cfg(max_steps: int) -> TrainConfig:
    return TrainConfig(
        max_length=48,
        stride=16,
        batch_size=3,
        lr=3e-3,
        warmup=0.1,
        max_steps=max_steps,
        save_every=12,
        log_every=1,
        seed=7,
        threads=1,
    )


@pytest.mark.slow
def test_tiny_training_reduces_loss_is_reproducible_and_saves_a_loadable_model(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    cfg = _cfg(24)
    res = train_reader(_examples(), _examples()[:3], tmp_path / "r1", tiny_encoder_dir, cfg)
    assert res.steps == 24 and res.best_dev is not None
    losses = _losses(tmp_path / "r1")
    assert np.mean(losses[-4:]) < 0.6 * np.mean(losses[:4])
    m = read_manifest(tmp_path / "r1" / "model")
    assert m["steps"] in (12, 24) and m["max_length"] == 48
    assert read_manifest(tmp_path / "r1" / "last")["steps"] == 24
    [[ans]] = load_reader(tmp_path / "r1" / "last").read(
        ["Who developed relativity?"],
        [
            [
                __import__("drqa_ng.types", fromlist=["Passage"]).Passage(
                    "e", "e", "", FACTS[2][0], 0, len(FACTS[2][0])
                )
            ]
        ],
    )
    assert ans.text == "Einstein"
    res2 = train_reader(_examples(), [], tmp_path / "r2", tiny_encoder_dir, cfg)
    assert res2.best_dev is None
    np.testing.assert_allclose(_losses(tmp_path / "r2"), losses, rtol=1e-5)


def test_training_continues_from_a_reader_folder_head_included(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    cfg = TrainConfig(
        max_length=48,
        stride=16,
        batch_size=3,
        lr=3e-3,
        warmup=0.1,
        max_steps=16,
        log_every=1,
        seed=7,
        threads=1,
    )
    train_reader(_examples(), [], tmp_path / "r1", tiny_encoder_dir, cfg)
    first = _losses(tmp_path / "r1")
    train_reader(_examples(), [], tmp_path / "r2", tmp_path / "r1" / "last", cfg)
    second = _losses(tmp_path / "r2")
    # a fresh head would start near the first run's initial loss; the trained head starts far below it
    assert np.mean(second[:3]) < 0.6 * np.mean(first[:3])
    m = read_manifest(tmp_path / "r2" / "last")
    assert m["continued_from"]["steps"] == 16
    assert m["base_encoder"] == str(tiny_encoder_dir)


def test_bucketed_batches_cover_every_row_once() -> None:
    lengths = np.array([5, 9, 1, 7, 3, 3, 8, 2, 6, 4])
    batches = bucketed_batches(lengths, 3, np.random.default_rng(0), pool=2)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(10))
    assert max(len(b) for b in batches) == 3
