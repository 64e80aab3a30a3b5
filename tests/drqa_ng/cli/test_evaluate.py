"""`drqa-ng eval` over the tiny doc store + BM25 index and the tiny (untrained) reader (moved from
test_ask.py when cli/ask.py was split by command)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.corpus import TINY_FACTS, tiny_facts_jsonl


def test_eval_writes_predictions_metrics_and_report(run_cli, pipe_args, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qfile = tmp_path / "qs.jsonl"
    qfile.write_text(tiny_facts_jsonl())
    out = tmp_path / "run"
    rc, text, err = run_cli(
        "eval", "--dataset", "webquestions", str(qfile), "--limit", "4", "--out", str(out), "-q", *pipe_args
    )
    assert rc == 0, err
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4 and preds[0]["question"] == TINY_FACTS[0][0]
    m = json.loads((out / "metrics.json").read_text())
    assert m["questions"] == 4 and 0 <= m["em"] <= 100 and m["regex_match"] is None
    assert m["recall_at"]["recall@5"] == 100.0  # BM25 finds every tiny fact's paragraph in its top 5
    assert m["latency_p95_ms"] >= m["latency_p50_ms"] > 0
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert "EM" in text and "recall@5" in text


def test_eval_sample_is_seeded_subset(run_cli, pipe_args, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qfile = tmp_path / "qs.jsonl"
    qfile.write_text(tiny_facts_jsonl())
    got = []
    for run in ("a", "b"):
        rc, _, err = run_cli(
            "eval",
            "--dataset",
            "wikimovies",
            str(qfile),
            "--sample",
            "3",
            "--out",
            str(tmp_path / run),
            "-q",
            *pipe_args,
        )
        assert rc == 0, err
        got.append(
            [
                json.loads(x)["question"]
                for x in (tmp_path / run / "predictions.jsonl").read_text().splitlines()
            ]
        )
    order = [q for q, _, _ in TINY_FACTS]
    assert got[0] == got[1] and len(got[0]) == 3
    assert [order.index(q) for q in got[0]] == sorted(order.index(q) for q in got[0])


def test_eval_regex_and_tune(run_cli, pipe_args, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qfile = tmp_path / "trec.jsonl"
    qfile.write_text(
        json.dumps({"question": "When was the Eiffel Tower completed?", "answer": ["18[0-9]9"]}) + "\n"
    )
    out = tmp_path / "trec"
    rc, text, err = run_cli(
        "eval", "--dataset", "curatedtrec", str(qfile), "--out", str(out), "--tune", "-q", *pipe_args
    )
    assert rc == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["regex_match"] is not None and m["recall_at"]["recall@1"] == 100.0
    assert "tuned_weight" in m and len(m["weight_curve"]) > 1
    assert "tuned weight" in text


def test_eval_features_feed_calibrate(run_cli, pipe_args, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from drqa_ng.confidence import Calibration
    from drqa_ng.evaluation.calibration import AnswerRow, read_rows, write_rows

    qfile = tmp_path / "qs.jsonl"
    qfile.write_text(tiny_facts_jsonl())
    out = tmp_path / "run"
    rc, text, err = run_cli(
        "eval", "--dataset", "webquestions", str(qfile), "--limit", "3", "--features", "--out", str(out),
        "-q", *pipe_args,
    )  # fmt: skip
    assert rc == 0, err
    rows = read_rows(out / "features.jsonl")
    assert {r.qid for r in rows} <= {"1", "2", "3"} and max(r.rank for r in rows) > 1
    assert "abstained" in text
    # the tiny reader is untrained, so fit on synthetic rows where more evidence means more correct
    rng = np.random.default_rng(0)
    synth = []
    for q in range(200):
        z = float(rng.normal())
        synth.append(
            AnswerRow(str(q), 1, "a", float(rng.random() < 1 / (1 + np.exp(-3 * z))), (z,) * 6, 0.5, 0.5)
        )
    write_rows(tmp_path / "train.jsonl", synth)
    reader = tmp_path / "reader"
    reader.mkdir()
    rc, text, err = run_cli(
        "calibrate", str(tmp_path / "train.jsonl"), "--eval", str(tmp_path / "train.jsonl"),
        "--out", str(tmp_path / "cal"), "--save-to", str(reader),
    )  # fmt: skip
    assert rc == 0, err
    assert "ECE" in text and "threshold" in text
    cal = Calibration.load(reader)
    assert cal is not None and cal == Calibration.load(tmp_path / "cal")
    for png in ("reliability.png", "precision_coverage.png"):
        assert (tmp_path / "cal" / png).read_bytes()[:4] == b"\x89PNG"
    rc, _, err = run_cli("calibrate", str(out / "predictions.jsonl"), "--out", str(tmp_path / "x"))
    assert rc == 3 and "features" in err
