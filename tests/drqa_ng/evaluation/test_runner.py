"""``drqa_ng.evaluation.runner``: question selection (the eval run itself is tested through the CLI in
tests/drqa_ng/cli/test_evaluate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.errors import InputError
from drqa_ng.evaluation.runner import QuestionSelection, select_questions
from tests.fixtures.corpus import TINY_FACTS, tiny_facts_jsonl


def test_select_questions_samples_in_file_order_then_limits(tmp_path: Path) -> None:
    qfile = tmp_path / "qs.jsonl"
    qfile.write_text(tiny_facts_jsonl())
    order = [q for q, _, _ in TINY_FACTS]
    assert [q.question for q in select_questions(QuestionSelection(qfile, limit=2))] == order[:2]
    a = [q.question for q in select_questions(QuestionSelection(qfile, sample=3, seed=1))]
    b = [q.question for q in select_questions(QuestionSelection(qfile, sample=3, seed=1))]
    assert a == b and len(a) == 3 and [order.index(q) for q in a] == sorted(order.index(q) for q in a)
    with pytest.raises(InputError, match="--limit"):
        select_questions(QuestionSelection(qfile, limit=0))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="no questions"):
        select_questions(QuestionSelection(empty))
