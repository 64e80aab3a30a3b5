from __future__ import annotations

from collections.abc import Sequence

import pytest

from drqa_ng.reading.data import QAExample
from drqa_ng.reading.evaluate import evaluate_reader
from drqa_ng.types import Answer, Passage


class _FirstWordReader:
    """Answers with the passage's first word: a known, checkable prediction."""

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int = 1
    ) -> list[list[Answer]]:
        out = []
        for plist in passages:
            p = plist[0]
            w = p.text.split()[0]
            out.append([Answer(w, 1.0, p, 0, len(w), 1.0, 0.0)])
        return out


def test_scores_are_official_em_f1_max_over_golds() -> None:
    items = [
        QAExample(
            "1", "q", "The cat sat.", ("the cat", "a dog"), (0, 0)
        ),  # "The" vs "the cat": EM 0, F1 0 ("the" is an article)
        QAExample("2", "q", "Paris is big.", ("Paris",), (0,)),
        QAExample("3", "q", "Blue whales swim.", ("blue whales",), (0,)),  # F1 = 2*(1*0.5)/(1.5) = 2/3
    ]
    res, preds = evaluate_reader(_FirstWordReader(), items, chunk=2)
    assert res.questions == 3
    assert res.exact_match == pytest.approx(100 / 3)
    assert res.f1 == pytest.approx(100 * (0 + 1 + 2 / 3) / 3)
    assert [p.prediction for p in preds] == ["The", "Paris", "Blue"]
    assert res.passages_per_s > 0
