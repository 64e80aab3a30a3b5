"""Shared-norm training: a question's windows (its gold and retrieved paragraphs) share one softmax."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.reading.data import QAExample, load_examples
from drqa_ng.reading.features import load_tokenizer
from drqa_ng.reading.train import span_loss, train_reader
from drqa_ng.reading.trainset import (
    TrainConfig,
    build_features,
    concat_windows,
    epoch_batches,
    question_group,
)

torch = pytest.importorskip("torch")

FR = "Paris is the capital of France and its largest city."
DE = "Berlin is the capital of Germany. Munich is in Bavaria."
IT = "Rome is the capital of Italy."


def _ex(qid: str, question: str, ctx: str, answer: str | None) -> QAExample:
    if answer is None:
        return QAExample(qid, question, ctx, (), (), negative=True)
    return QAExample(qid, question, ctx, (answer,), (ctx.index(answer),))


def _group_examples() -> list[QAExample]:
    return [
        _ex("q1#r0", "What is the capital of Germany?", DE, "Berlin"),
        _ex("q1#r1", "What is the capital of Germany?", FR, None),
        _ex("q1#r2", "What is the capital of Germany?", IT, None),
        _ex("q2", "What is the capital of France?", FR, "Paris"),
    ]


def test_question_group_is_the_id_before_the_first_hash() -> None:
    assert [question_group(i) for i in ("q1#r0", "q1#r12", "q1", "a#b#c")] == ["q1", "q1", "q1", "a"]


def test_negative_lines_load_as_negatives(tmp_path: Path) -> None:
    f = tmp_path / "groups.jsonl.gz"
    with gzip.open(f, "wt") as w:
        for rec in (
            {
                "id": "q#r0",
                "question": "Capital?",
                "context": DE,
                "answers": [{"text": "Berlin", "answer_start": 0}],
            },
            {"id": "q#r1", "question": "Capital?", "context": FR, "negative": True},
            {"id": "q#r2", "question": "Capital?", "context": IT},  # no answer, no label, no mark: dropped
        ):
            w.write(json.dumps(rec) + "\n")
    ex = load_examples(f)
    assert [(e.id, e.has_gold, e.negative) for e in ex] == [("q#r0", True, False), ("q#r1", False, True)]


def test_groups_are_numbered_per_source_and_offset_when_concatenated(tiny_model_dir: Path) -> None:
    tok = load_tokenizer(tiny_model_dir)
    cfg = TrainConfig(max_length=48, stride=16)
    a = build_features(tok, _group_examples(), cfg)
    assert a.group.tolist() == [0, 0, 0, 1]
    both = concat_windows([a, a])
    assert both.group.tolist() == [0, 0, 0, 1, 2, 2, 2, 3]


def test_group_batches_keep_a_question_together_and_cover_each_drawn_group() -> None:
    groups = np.repeat(np.arange(10), 3)  # 10 questions of 3 windows
    lengths = np.arange(30) % 7 + 10
    batches = epoch_batches(lengths, [30], [1.0], 7, seed=3, epoch=0, groups=groups)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(30))
    for b in batches:
        assert len(b) <= 7
        for g in np.unique(groups[b]):
            assert (groups[b] == g).sum() == 3  # whole groups only
    again = epoch_batches(lengths, [30], [1.0], 7, seed=3, epoch=0, groups=groups)
    assert all((x == y).all() for x, y in zip(batches, again, strict=True))
    half = epoch_batches(lengths, [30], [0.5], 7, seed=3, epoch=0, groups=groups)
    assert sum(len(b) for b in half) == 15  # weight 0.5: five of ten questions


def test_shared_norm_equals_the_window_loss_for_single_window_questions(tiny_model_dir: Path) -> None:
    from drqa_ng.reading.model import load_model

    model = load_model(tiny_model_dir).eval()
    tok = load_tokenizer(tiny_model_dir)
    feats = build_features(tok, [_group_examples()[3]], TrainConfig(max_length=48, stride=16))
    idx = np.arange(len(feats))
    with torch.no_grad():
        plain = float(span_loss(model, feats, idx, False))
        shared = float(span_loss(model, feats, idx, False, shared_norm=True))
    assert shared == pytest.approx(plain, rel=1e-5)


def test_shared_norm_matches_the_hand_formula_over_a_question_s_windows(tiny_model_dir: Path) -> None:
    from drqa_ng.reading.model import load_model

    model = load_model(tiny_model_dir).eval()
    tok = load_tokenizer(tiny_model_dir)
    feats = build_features(tok, _group_examples()[:3], TrainConfig(max_length=48, stride=16))
    assert feats.gold.tolist() == [1, 0, 0]
    idx = np.arange(len(feats))
    n = int(feats.lengths.max())
    ids = torch.as_tensor(feats.input_ids[:, :n].astype(np.int64))
    mask = torch.arange(n)[None, :] < torch.as_tensor(feats.lengths)[:, None]
    with torch.no_grad():
        s, e = model(ids, mask.long(), torch.as_tensor(feats.token_type_ids[:, :n].astype(np.int64)))
        s, e = s.float().masked_fill(~mask, -1e4), e.float().masked_fill(~mask, -1e4)
        t0, t1 = (int(v) for v in feats.targets[0])
        want = (
            (torch.logsumexp(s.flatten(), 0) - s[0, t0]) + (torch.logsumexp(e.flatten(), 0) - e[0, t1])
        ) / 2
        got = float(span_loss(model, feats, idx, False, shared_norm=True))
        alone = float(span_loss(model, feats, idx[:1], False))
    # one positive window of three: the group's loss once, averaged over the batch's three rows
    assert got == pytest.approx(float(want) / 3, rel=1e-5)
    assert float(want) > alone  # the negatives' spans enlarge the normaliser


def test_shared_norm_training_runs_resumably(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(
        max_length=48,
        stride=16,
        batch_size=4,
        max_steps=4,
        save_every=2,
        log_every=1,
        threads=1,
        shared_norm=True,
    )
    ex = _group_examples()
    res = train_reader(ex, [], tmp_path / "run", tiny_encoder_dir, cfg)
    assert res.steps == 4 and np.isfinite(res.final_loss)
    piece = train_reader(ex, [], tmp_path / "pieces", tiny_encoder_dir, cfg, stop_at_step=2)
    assert piece.steps == 2
    rest = train_reader(ex, [], tmp_path / "pieces", tiny_encoder_dir, cfg)
    assert rest.steps == 4 and rest.final_loss == pytest.approx(res.final_loss, rel=1e-4)


def test_a_batch_of_negatives_only_still_backpropagates(tiny_model_dir: Path) -> None:
    from drqa_ng.reading.model import load_model

    model = load_model(tiny_model_dir)
    tok = load_tokenizer(tiny_model_dir)
    feats = build_features(tok, _group_examples()[1:3], TrainConfig(max_length=48, stride=16))
    loss = span_loss(model, feats, np.arange(len(feats)), False, shared_norm=True)
    assert float(loss.detach()) == 0.0
    loss.backward()  # no positive window: a zero loss, still part of the graph
