from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import InputError
from drqa_ng.index_io import read_manifest
from drqa_ng.reading.data import QAExample
from drqa_ng.reading.model import bf16_is_fast
from drqa_ng.reading.reader import load_reader
from drqa_ng.reading.train import train_reader
from drqa_ng.reading.trainset import (
    TrainConfig,
    TrainSource,
    bucketed_batches,
    build_features,
    cached_features,
    epoch_rows,
)

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


def _weights(run: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(run / "ckpt" / "model.safetensors"))


def _mix() -> list[TrainSource]:
    ex = _examples()
    return [TrainSource("a", ex[:4], 1.5), TrainSource("b", ex[4:], 0.5)]


def test_a_run_done_in_pieces_ends_with_the_weights_of_an_uninterrupted_run(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    cfg = TrainConfig(
        max_length=48, stride=16, batch_size=2, lr=3e-3, warmup=0.2, max_steps=14, save_every=4,
        log_every=1, seed=7, threads=1,
    )  # fmt: skip
    whole = tmp_path / "whole"
    train_reader(_mix(), _examples()[:2], whole, tiny_encoder_dir, cfg)
    pieces = tmp_path / "pieces"
    train_reader(_mix(), _examples()[:2], pieces, tiny_encoder_dir, cfg, stop_at_step=5)
    assert json.loads((pieces / "ckpt" / "manifest.json").read_text())["position"]["step"] == 5
    # a kill after the step-8 checkpoint: state on disk says 8, the log already reached 10
    train_reader(_mix(), _examples()[:2], pieces, tiny_encoder_dir, cfg, stop_at_step=8)
    shutil.copytree(pieces / "ckpt", tmp_path / "ckpt8")
    train_reader(_mix(), _examples()[:2], pieces, tiny_encoder_dir, cfg, stop_at_step=10)
    shutil.rmtree(pieces / "ckpt")
    shutil.copytree(tmp_path / "ckpt8", pieces / "ckpt")
    res = train_reader(_mix(), _examples()[:2], pieces, tiny_encoder_dir, cfg)
    assert res.steps == 14
    a, b = _weights(whole), _weights(pieces)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # the log reads as one run: every step once, same losses
    assert _losses(pieces) == _losses(whole)
    steps = [json.loads(x)["step"] for x in (pieces / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)


def test_a_run_folder_refuses_a_different_run(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    cfg = _cfg(3)
    train_reader(_mix(), [], tmp_path / "r", tiny_encoder_dir, cfg, stop_at_step=2)
    with pytest.raises(InputError, match="different run"):
        train_reader(_mix(), [], tmp_path / "r", tiny_encoder_dir, replace(cfg, lr=1e-3))


def test_epoch_rows_draw_each_source_by_its_weight() -> None:
    rows = epoch_rows([4, 10, 3], [2.5, 0.3, 0.0], np.random.default_rng(0))
    a, b = rows[rows < 4], rows[(rows >= 4) & (rows < 14)]
    assert len(a) == 10 and np.bincount(a).min() == 2  # every window twice, half of them thrice
    assert len(b) == 3 and len(set(b.tolist())) == 3  # without replacement
    assert not (rows >= 14).any()
    same = epoch_rows([4, 10, 3], [2.5, 0.3, 0.0], np.random.default_rng(0))
    np.testing.assert_array_equal(rows, same)


def test_bf16_is_used_on_cuda_only_where_native_elsewhere() -> None:
    assert bf16_is_fast("cuda")
    native = any(f in Path("/proc/cpuinfo").read_text().split() for f in ("avx512_bf16", "amx_bf16"))
    if not native:
        assert not bf16_is_fast("cpu")


def test_features_are_cached_per_source_and_rebuilt_when_the_examples_change(
    tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drqa_ng.reading import trainset as train_mod
    from drqa_ng.reading.model import load_tokenizer

    tok, cfg = load_tokenizer(tiny_encoder_dir), _cfg(1)
    first = cached_features(tmp_path, "a", tok, _examples(), cfg)
    direct = build_features(tok, _examples(), cfg)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt")

    monkeypatch.setattr(train_mod, "build_features", fail)
    again = cached_features(tmp_path, "a", tok, _examples(), cfg)
    for a in ("input_ids", "token_type_ids", "lengths", "targets"):
        np.testing.assert_array_equal(getattr(again, a), getattr(direct, a))
        np.testing.assert_array_equal(getattr(first, a), getattr(direct, a))
    with pytest.raises(AssertionError, match="rebuilt"):
        cached_features(tmp_path, "a", tok, _examples()[:3], cfg)


def test_a_run_folder_in_use_is_refused(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    import fcntl

    (tmp_path / "r").mkdir()
    with open(tmp_path / "r" / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another process"):
            train_reader(_mix(), [], tmp_path / "r", tiny_encoder_dir, _cfg(2))
    assert train_reader(_mix(), [], tmp_path / "r", tiny_encoder_dir, _cfg(2)).steps == 2


def test_check_sources_is_the_first_stage_and_refuses_bad_runs() -> None:
    """train_reader's first stage: plain examples become one source; bad mixes fail before any load."""
    from drqa_ng.errors import InputError
    from drqa_ng.reading.train import check_sources

    ex = _examples()
    (only,) = check_sources(ex, _cfg(1))
    assert only.name == "train" and list(only.examples) == list(ex)
    for train, cfg, needle in (
        ([TrainSource("a", ex), ex[0]], _cfg(1), "mix"),
        ([TrainSource("a", [])], _cfg(1), "no training"),
        ([TrainSource("a", ex, -1.0)], _cfg(1), ">= 0"),
        (ex, replace(_cfg(1), precision="fp8"), "precision"),
    ):
        with pytest.raises(InputError, match=needle):
            check_sources(train, cfg)  # type: ignore[arg-type]
