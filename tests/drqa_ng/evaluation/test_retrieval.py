from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from drqa_ng.errors import InputError
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.retrieval import (
    evaluate_retrieval,
    first_answer_rank,
    recall_at_k,
    write_report,
)
from drqa_ng.types import Hit, Passage

TEXTS = {
    "a#p0": "Paris is the capital of France.",
    "b#p0": "The Eiffel Tower was completed in 1889.",
    "c#p0": "Nothing relevant here.",
}


class Lookup:
    def __init__(self) -> None:
        self.calls = 0

    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]:
        self.calls += 1
        return [Passage(i, i[0], "", TEXTS[i], 0, len(TEXTS[i])) if i in TEXTS else None for i in ids]


class Ranked:
    unit = "paragraph"

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        return [[Hit(i, i[0], 1.0 / (r + 1)) for r, i in enumerate(self.order[:k])] for _ in queries]


def h(i: str) -> Hit:
    return Hit(i, i[0], 0.0)


def test_first_answer_rank_and_regex() -> None:
    hits = [h("c#p0"), h("b#p0"), h("a#p0")]
    assert first_answer_rank(hits, TEXTS, ["1889"]) == 1
    assert first_answer_rank(hits, TEXTS, ["paris"]) == 2  # normalised, case-insensitive
    assert first_answer_rank(hits, TEXTS, ["Tower was"]) == 1
    assert first_answer_rank(hits, TEXTS, ["Lyon"]) is None
    assert first_answer_rank(hits, TEXTS, [r"18[0-9]{2}"], regex=True) == 1
    assert first_answer_rank(hits, TEXTS, [r"18[0-9]{2}"], regex=False) is None


def test_recall_at_k_by_hand() -> None:
    assert recall_at_k([0, 2, None, 19], [1, 5, 20]) == (0.25, 0.5, 0.75)
    assert recall_at_k([], [1]) == (0.0,)


def test_evaluate_retrieval(tmp_path: Path) -> None:
    qs = [Question("1", "capital?", ("Paris",)), Question("2", "tower?", ("1889",))]
    systems = {"good": Ranked(["a#p0", "b#p0"]), "bad": Ranked(["c#p0", "zzz", "b#p0"])}
    lookup = Lookup()
    rep = evaluate_retrieval(qs, systems, lookup, ks=[3, 1], batch_size=1)
    assert rep.ks == (1, 3) and rep.questions == 2
    good, bad = rep.systems
    assert good.recall == (0.5, 1.0) and good.hits == (1, 2)
    assert bad.recall == (0.0, 0.5)
    metrics, png = write_report(rep, tmp_path / "out")
    data = json.loads(metrics.read_text())
    assert data["systems"][0]["name"] == "good" and data["systems"][1]["recall"] == [0.0, 0.5]
    assert png.stat().st_size > 1000
    assert "| good | 0.500 | 1.000 |" in rep.table()


def test_evaluate_retrieval_rejects_empty_input() -> None:
    with pytest.raises(InputError):
        evaluate_retrieval([], {"x": Ranked([])}, Lookup())
    with pytest.raises(InputError):
        evaluate_retrieval([Question("1", "q", ("a",))], {}, Lookup())
    with pytest.raises(InputError):
        evaluate_retrieval([Question("1", "q", ("a",))], {"x": Ranked([])}, Lookup(), ks=[0])
