"""scripts/fit_home_calibration.py: the calibration questions come from the tune half only, never from
the choice sample that open-domain settings are picked on, and are reproducible."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from drqa_ng.evaluation.splits import parity_half, sampled_halves
from tests.scripts.loader import load_script


def _module() -> ModuleType:
    return load_script("fit_home_calibration")


def test_questions_are_tune_half_outside_the_choice_sample(tmp_path: Path) -> None:
    qa = tmp_path / "qa"
    qa.mkdir()
    rows = [{"id": f"wq{i:03d}", "question": f"q {i}?", "answer": ["Paris"]} for i in range(120)]
    (qa / "webquestions-train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mod = _module()
    got = mod.tune_questions(tmp_path, "webquestions", n=1000, exclude_per_split=10, seed=7)
    chosen = {q.id for q in sampled_halves(tmp_path, 10, sets=("webquestions",))["webquestions"]["tune"]}
    tune = [r["id"] for r in rows if parity_half(r["id"]) == "tune"]
    assert len(chosen) == 10
    assert {r["id"] for r in got} == set(tune) - chosen  # every other tune question, no test question
    few = mod.tune_questions(tmp_path, "webquestions", n=5, exclude_per_split=10, seed=7)
    assert few == mod.tune_questions(tmp_path, "webquestions", n=5, exclude_per_split=10, seed=7)
    assert len(few) == 5 and all(r["answer"] == ["Paris"] for r in few)
