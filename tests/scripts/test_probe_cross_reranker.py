"""scripts/probe_cross_reranker.py: top-k recall of its mined rows, in the retriever's order or fused."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import ModuleType

import numpy as np

from tests.scripts.loader import load_script


def _script() -> ModuleType:
    return load_script("probe_cross_reranker")


def _row(norms: list[float], has: list[bool]) -> dict[str, object]:
    return {
        "id": "q",
        "q": "q?",
        "p": [[f"p{i}", "T", "text", n, y] for i, (n, y) in enumerate(zip(norms, has, strict=True))],
    }


def test_recall_in_the_retrievers_order_and_fused() -> None:
    mod = _script()
    # the answer-bearing paragraph is third by the retriever; the model scores it far above the rest
    rows = [_row([1.0, 0.8, 0.5], [False, False, True]), _row([1.0, 0.2], [True, False]), _row([], [])]
    scores = [np.array([0.0, 0.0, 5.0]), np.array([0.0, 3.0]), np.zeros(0)]
    assert mod.recall(rows, scores, None, 1) == 100 / 3  # only the second question at rank 1
    assert mod.recall(rows, scores, None, 3) == 200 / 3  # an empty row never counts as found
    assert mod.recall(rows, scores, 0.0, 1) == 100 / 3  # the model alone: first right, second wrong
    # fused s + w · norm: w = 4 keeps the second question's retriever winner (0 + 4 > 3 + 0.8) and the
    # first's model winner (5 + 2 > 0 + 4)
    assert mod.recall(rows, scores, 4.0, 1) == 200 / 3


def test_rows_round_trip_through_the_mined_files(tmp_path: Path) -> None:
    mod = _script()
    rows = [_row([1.0, 0.0], [True, False])]
    with gzip.open(tmp_path / "webquestions-val.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    assert mod.load_rows(tmp_path, "webquestions", "val") == rows
