"""Distillation: character-level teacher labels become soft targets on the student's tokens."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.reading.data import QAExample, TeacherLabel, load_examples
from drqa_ng.reading.distill import distill_loss, label_examples, soft_targets, teacher_probs
from drqa_ng.reading.features import Windows, load_tokenizer
from drqa_ng.reading.train import span_loss, train_reader
from drqa_ng.reading.trainset import TrainConfig, build_features

torch = pytest.importorskip("torch")

CTX = "Paris is the capital of France. Berlin is the capital of Germany."


def _read_gz(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_teacher_probs_is_a_tempered_softmax() -> None:
    p = teacher_probs([2.0, 0.0], temperature=2.0)
    np.testing.assert_allclose(p, np.exp([1.0, 0.0]) / np.exp([1.0, 0.0]).sum())


def _one_window(offsets: list[tuple[int, int]]) -> Windows:
    offs = np.array([[(-1, -1), *offsets, (-1, -1)]], dtype=np.int64)
    n = offs.shape[1]
    z = np.zeros((1, n), dtype=np.int64)
    return Windows(z, np.ones((1, n), dtype=np.int64), z, offs, np.zeros(1, dtype=np.int64))


def test_soft_targets_map_characters_to_tokens_and_outside_mass_to_cls() -> None:
    # student tokens: "Paris"=1 (0-5), "is"=2 (6-8), "the"=3 (9-12)
    win = _one_window([(0, 5), (6, 8), (9, 12)])
    label = TeacherLabel(starts=((0, 3.0), (2, 1.0), (100, 1.0)), ends=((5, 2.0), (8, 2.0)))
    pos, prob = soft_targets(win, [label], k=4, temperature=1.0)
    p = teacher_probs([3.0, 1.0, 1.0], 1.0)
    got = {int(t): float(q) for t, q in zip(pos[0, 0], prob[0, 0], strict=True) if t >= 0}
    # chars 0 and 2 lie in one student token; char 100 is outside the window -> [CLS]
    assert got == pytest.approx({1: p[0] + p[1], 0: p[2]})
    got_end = {int(t): float(q) for t, q in zip(pos[0, 1], prob[0, 1], strict=True) if t >= 0}
    assert got_end == pytest.approx({1: 0.5, 2: 0.5})
    nolabel_pos, nolabel_prob = soft_targets(win, [None], k=4)
    assert (nolabel_prob == 0).all() and (nolabel_pos == -1).all()


def test_distill_loss_matches_the_hand_formula() -> None:
    s = torch.tensor([[1.0, 2.0, 0.5]])
    e = torch.tensor([[0.0, 0.0, 3.0]])
    pos = torch.tensor([[[1, 2], [2, -1]]])
    prob = torch.tensor([[[0.75, 0.25], [1.0, 0.0]]])
    T = 2.0
    ls = torch.log_softmax(s / T, dim=-1)[0]
    le = torch.log_softmax(e / T, dim=-1)[0]
    hand = T**2 * (-(0.75 * ls[1] + 0.25 * ls[2]) + -(1.0 * le[2])) / 2
    assert float(distill_loss(s, e, pos, prob, T)[0]) == pytest.approx(float(hand), rel=1e-6)


def _examples() -> list[QAExample]:
    return [
        QAExample("a", "What is the capital of France?", CTX, ("Paris",), (0,)),
        QAExample("b", "What is the capital of Germany?", CTX, ("Berlin",), (CTX.index("Berlin"),)),
    ]


def test_label_examples_keeps_top_characters(tiny_model_dir: Path) -> None:
    from drqa_ng.reading.model import load_model

    tok = load_tokenizer(tiny_model_dir)
    labels = list(
        label_examples(load_model(tiny_model_dir), tok, _examples(), max_length=32, stride=8, top=5)
    )
    assert len(labels) == 2
    for lab in labels:
        assert 0 < len(lab.starts) <= 5 and 0 < len(lab.ends) <= 5
        assert all(0 <= c <= len(CTX) for c, _ in lab.starts + lab.ends)
        assert [v for _, v in lab.starts] == sorted((v for _, v in lab.starts), reverse=True)


def test_bf16_labels_stay_close_to_fp32_labels(tiny_model_dir: Path) -> None:
    from drqa_ng.reading.model import load_model

    model, tok = load_model(tiny_model_dir), load_tokenizer(tiny_model_dir)
    fp32 = list(label_examples(model, tok, _examples(), max_length=32, stride=8, top=5))
    bf16 = list(label_examples(model, tok, _examples(), max_length=32, stride=8, top=5, bf16=True))
    for a, b in zip(fp32, bf16, strict=True):
        va, vb = dict(a.starts), dict(b.starts)
        shared = set(va) & set(vb)
        assert shared  # the same characters lead, with logits within bf16's rounding
        assert all(abs(va[c] - vb[c]) <= 0.05 * max(1.0, abs(va[c])) for c in shared)


def test_teacher_only_examples_load_and_train_without_gold(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    f = tmp_path / "taught.jsonl.gz"
    label = TeacherLabel(
        starts=((CTX.index("Berlin"), 5.0), (0, 1.0)), ends=((CTX.index("Berlin") + 6, 5.0),)
    )
    with gzip.open(f, "wt") as w:
        w.write(
            json.dumps(
                {"id": "t", "question": "Capital of Germany?", "context": CTX, "teacher": label.as_json()}
            )
            + "\n"
        )
        w.write(
            json.dumps(
                {
                    "id": "g",
                    "question": "Capital of France?",
                    "context": CTX,
                    "answers": [{"text": "Paris", "answer_start": 0}],
                    "teacher": label.as_json(),
                }
            )
            + "\n"
        )
    ex = load_examples(f)
    assert [e.has_gold for e in ex] == [False, True] and all(e.teacher is not None for e in ex)
    cfg = TrainConfig(
        max_length=48, stride=16, batch_size=2, max_steps=3, save_every=3, log_every=1, threads=1
    )
    tok = load_tokenizer(tiny_encoder_dir)
    feats = build_features(tok, ex, cfg)
    assert feats.gold.tolist() == [0, 1] and (feats.soft_prob.sum(axis=(1, 2)) > 0).all()
    assert (feats.targets[0] == 0).all()  # no gold: the hard target is unused
    res = train_reader(ex, [], tmp_path / "run", tiny_encoder_dir, cfg)
    assert res.steps == 3 and np.isfinite(res.final_loss)


def test_span_loss_weights_hard_and_soft_parts(tiny_model_dir: Path) -> None:
    from drqa_ng.reading.model import load_model

    model = load_model(tiny_model_dir)
    tok = load_tokenizer(tiny_model_dir)
    cfg = TrainConfig(max_length=48, stride=16)
    plain = build_features(tok, _examples(), cfg)
    label = TeacherLabel(starts=((0, 1.0),), ends=((5, 1.0),))
    taught = build_features(tok, [replace(e, teacher=label) for e in _examples()], cfg)
    idx = np.arange(len(plain))
    model.eval()
    with torch.no_grad():
        h = float(span_loss(model, plain, idx, False))
        only_hard = float(span_loss(model, taught, idx, False, hard_weight=1.0))
        mixed = float(span_loss(model, taught, idx, False, hard_weight=0.5))
    assert only_hard == pytest.approx(h, rel=1e-5)  # alpha 1: the teacher is ignored
    assert mixed != pytest.approx(h, rel=1e-3)


def test_label_reader_cli_writes_labels_and_resumes(tiny_model_dir: Path, tmp_path: Path) -> None:
    from drqa_ng.cli.main import main

    src = tmp_path / "train.jsonl"
    src.write_text(
        "".join(
            json.dumps(
                {
                    "id": e.id,
                    "question": e.question,
                    "context": e.context,
                    "answers": [{"text": e.answers[0], "answer_start": e.answer_starts[0]}],
                }
            )
            + "\n"
            for e in _examples()
        )
    )
    out = tmp_path / "labelled.jsonl.gz"
    # a killed earlier run left one whole line and half of another
    first = json.dumps(
        {
            "id": "a",
            "title": "",
            "question": "q",
            "context": CTX,
            "teacher": {"start": [[0, 1.0]], "end": [[5, 1.0]]},
        }
    )
    (tmp_path / "labelled.jsonl.gz.partial").write_text(first + "\n" + first[:20])
    assert (
        main(
            [
                "-q",
                "label-reader",
                str(tiny_model_dir),
                str(src),
                "--out",
                str(out),
                "--max-length",
                "32",
                "--stride",
                "8",
                "--top",
                "4",
                "--batch-size",
                "1",
            ]
        )
        == 0
    )
    rows = _read_gz(out)
    assert [r["id"] for r in rows] == ["a", "b"]  # the whole line kept, the half one redone
    assert rows[1]["answers"][0]["text"] == "Berlin" and len(rows[1]["teacher"]["start"]) == 4
    assert not (tmp_path / "labelled.jsonl.gz.partial").exists()
    ex = load_examples(out)
    assert ex[1].teacher is not None and ex[1].has_gold


def test_retrieved_units_become_unanswered_examples_for_the_teacher(
    tiny_sparse_index: Path, tiny_docstore: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from drqa_ng.cli.main import main

    q = tmp_path / "q.jsonl"
    q.write_text(
        json.dumps({"id": "w1", "question": "When was the Eiffel Tower completed?", "answer": ["1889"]})
        + "\n"
        + json.dumps({"id": "w2", "question": "What is the capital of France?", "answer": ["Paris"]})
        + "\n"
    )
    out = tmp_path / "retrieved.jsonl.gz"
    assert (
        main(
            [
                "-q",
                "distant-supervise",
                str(q),
                "--retrieved",
                "--index",
                str(tiny_sparse_index),
                "--docs",
                str(tiny_docstore),
                "-k",
                "2",
                "--exclude-prefix",
                "france",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = _read_gz(out)
    # w2's only hits are in the excluded France article
    assert [r["id"] for r in rows] == ["w1#r0", "w1#r1"]
    assert all(r["answers"] == [] and r["context"] for r in rows)
    assert not any(r["retrieved"]["unit"].startswith("france") for r in rows)  # excluded documents
    assert rows[0]["retrieved"]["unit"].startswith("eiffel_tower")
    assert load_examples(out) == []  # no gold and no teacher yet: nothing to train on until labelled
    # ... and label-reader labels them (it refused them all before: "no examples to label")
    labelled = tmp_path / "retrieved.labels.jsonl.gz"
    assert main(["-q", "label-reader", str(tiny_model_dir), str(out), "--out", str(labelled)]) == 0
    got = load_examples(labelled)
    assert [e.id for e in got] == ["w1#r0", "w1#r1"]
    assert all(not e.has_gold and e.teacher is not None for e in got)


def test_label_reader_keeps_only_the_listed_squad_articles(tiny_model_dir: Path, tmp_path: Path) -> None:
    from drqa_ng.cli.main import main

    squad = {
        "data": [
            {
                "title": t,
                "paragraphs": [
                    {
                        "context": CTX,
                        "qas": [
                            {
                                "id": t,
                                "question": "What is the capital of France?",
                                "answers": [{"text": "Paris", "answer_start": 0}],
                            }
                        ],
                    }
                ],
            }
            for t in ("Keep_me", "Drop_me")
        ]
    }
    src = tmp_path / "dev.json"
    src.write_text(json.dumps(squad))
    arts = tmp_path / "train-articles.txt"
    arts.write_text("Keep_me\n")
    out = tmp_path / "l.jsonl"
    assert (
        main(
            [
                "-q",
                "label-reader",
                str(tiny_model_dir),
                str(src),
                "--out",
                str(out),
                "--articles",
                str(arts),
                "--max-length",
                "32",
                "--stride",
                "8",
            ]
        )
        == 0
    )
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["Keep_me"]
    # the SQuAD dev titles list (which names the listed train articles too) only filters JSONL files,
    # as train-reader does; a filter that leaves nothing is an error, not an empty labels file
    dev_titles = tmp_path / "squad_dev_titles.txt"
    dev_titles.write_text("Keep_me\nDrop_me\n")
    common = [str(tiny_model_dir), str(src), "--max-length", "32", "--stride", "8"]
    out2 = tmp_path / "l2.jsonl"
    args = ["-q", "label-reader", *common, "--out", str(out2), "--articles", str(arts)]
    assert main([*args, "--exclude-titles", str(dev_titles)]) == 0
    assert [json.loads(x)["id"] for x in out2.read_text().splitlines()] == ["Keep_me"]
    none = tmp_path / "none.txt"
    none.write_text("Not_there\n")
    out3 = tmp_path / "l3.jsonl"
    assert main(["-q", "label-reader", *common, "--out", str(out3), "--articles", str(none)]) == 2
    assert not out3.exists()


def test_mark_answers_gives_retrieved_units_their_span_and_marks_the_rest_negative(
    tiny_sparse_index: Path, tiny_docstore: Path, tmp_path: Path
) -> None:
    from drqa_ng.cli.main import main

    q = tmp_path / "q.jsonl"
    q.write_text(
        json.dumps({"id": "w1", "question": "When was the Eiffel Tower completed?", "answer": ["1889"]})
        + "\n"
        + json.dumps({"id": "w2", "question": "Who designed the Eiffel Tower?", "answer": ["Nobody Atall"]})
        + "\n"
    )
    out = tmp_path / "marked.jsonl.gz"
    args = [
        "-q",
        "distant-supervise",
        str(q),
        "--retrieved",
        "--mark-answers",
        "--index",
        str(tiny_sparse_index),
    ]
    assert main([*args, "--docs", str(tiny_docstore), "-k", "3", "--out", str(out)]) == 0
    rows = _read_gz(out)
    w1 = [r for r in rows if r["id"].startswith("w1#")]
    w2 = [r for r in rows if r["id"].startswith("w2#")]
    assert len(w1) > 1 and w2
    for r in w1:
        if "1889" in r["context"]:
            [a] = r["answers"]
            assert r["context"][a["answer_start"] : a["answer_start"] + 4] == "1889" and "negative" not in r
        else:
            assert r["answers"] == [] and r["negative"] is True
    assert any(r["answers"] for r in w1) and any(r.get("negative") for r in w1)
    # no unit holds w2's answer: written as without --mark-answers (for label-reader), not as negatives
    assert all(r["answers"] == [] and "negative" not in r for r in w2)
    got = load_examples(out)
    assert {e.id for e in got} == {r["id"] for r in w1}
    assert all(e.has_gold != e.negative for e in got)


def test_labels_do_not_depend_on_the_batch_or_window_order(tiny_model_dir: Path) -> None:
    from drqa_ng.reading.model import load_model

    # a long context (several windows) beside short ones: windows are read shortest first in
    # batches of 2, and each label must still gather its own example's windows
    long_ctx = " ".join([CTX] * 4)
    examples = [
        QAExample(
            "long", "What is the capital of Germany?", long_ctx, ("Berlin",), (long_ctx.index("Berlin"),)
        ),
        *_examples(),
    ]
    model, tok = load_model(tiny_model_dir), load_tokenizer(tiny_model_dir)
    together = list(label_examples(model, tok, examples, max_length=32, stride=8, top=5, batch_size=2))
    alone = [
        next(label_examples(model, tok, [e], max_length=32, stride=8, top=5, batch_size=64)) for e in examples
    ]
    assert len(together) == 3
    for a, b in zip(together, alone, strict=True):
        assert [c for c, _ in a.starts] == [c for c, _ in b.starts]
        assert [c for c, _ in a.ends] == [c for c, _ in b.ends]
        np.testing.assert_allclose([v for _, v in a.starts], [v for _, v in b.starts], atol=1e-4)
