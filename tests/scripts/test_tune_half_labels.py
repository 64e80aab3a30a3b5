"""scripts/tune_half_labels.py: test-half questions and the choice sample never reach training."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from drqa_ng.evaluation.splits import parity_half, sampled_halves

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "tune_half_labels.py"


def _write_gz(path: Path, rows: list[dict[str, object]]) -> None:
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


def test_only_unheld_tune_questions_are_kept_with_their_gold_span(tmp_path: Path) -> None:
    qa = tmp_path / "data" / "qa"
    qa.mkdir(parents=True)
    ids = [f"wq{i:03d}" for i in range(40)]
    (qa / "webquestions-train.jsonl").write_text(
        "".join(json.dumps({"id": i, "question": f"q {i}?", "answer": ["Paris"]}) + "\n" for i in ids)
    )
    rows = [
        {
            "id": f"{i}#r{r}",
            "question": f"q {i}?",
            "context": ctx,
            "teacher": {"start": [[0, 1.0]], "end": [[5, 1.0]]},
        }
        for i in ids
        for r, ctx in enumerate(("Paris is in France.", "Lyon is a city."))
    ]
    labels = tmp_path / "labels.jsonl.gz"
    _write_gz(labels, rows)
    out = tmp_path / "out.jsonl.gz"
    res = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(labels),
            "--set",
            "webquestions",
            "--out",
            str(out),
            "--hold",
            "3",
            "--data",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    with gzip.open(out, "rt") as f:
        got = [json.loads(line) for line in f]
    held = {
        q.id for q in sampled_halves(tmp_path / "data", 3, sets=("webquestions",))["webquestions"]["tune"]
    }
    want = {i for i in ids if parity_half(i) == "tune" and i not in held}
    assert len(held) == 3 and want
    assert {r["id"].split("#")[0] for r in got} == want
    for r in got:
        if r["context"].startswith("Paris"):
            assert r["answers"] == [{"text": "Paris", "answer_start": 0}]
        else:
            assert "answers" not in r
        assert r["teacher"]  # the teacher's label is kept
