from __future__ import annotations

import json
from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.evaluation.datasets import load_questions


def test_squad_json_with_article_filter(tmp_path: Path) -> None:
    data = {
        "data": [
            {
                "title": "A",
                "paragraphs": [
                    {
                        "context": "x y",
                        "qas": [
                            {"id": "1", "question": "q1?", "answers": [{"text": "x", "answer_start": 0}]}
                        ],
                    }
                ],
            },
            {
                "title": "B",
                "paragraphs": [
                    {
                        "context": "z",
                        "qas": [
                            {"id": "2", "question": "q2?", "answers": [{"text": "z", "answer_start": 0}]}
                        ],
                    }
                ],
            },
        ]
    }
    p = tmp_path / "s.json"
    p.write_text(json.dumps(data))
    qs = load_questions(p, articles={"B"})
    assert [(q.id, q.title, q.context, q.answers) for q in qs] == [("2", "B", "z", ("z",))]
    assert len(load_questions(p)) == 2


def test_jsonl_format_a(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    p.write_text('{"question": "who?", "answer": ["me", "I"]}\n\n{"id": 7, "question": "w", "answer": "x"}\n')
    qs = load_questions(p)
    assert qs[0].answers == ("me", "I") and qs[1].id == "7" and qs[1].answers == ("x",)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_questions(tmp_path / "none.jsonl")
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"q": 1}\n')
    with pytest.raises(DataFormatError, match=":1:"):
        load_questions(bad)
    badj = tmp_path / "b.json"
    badj.write_text("[1, 2]")
    with pytest.raises(DataFormatError):
        load_questions(badj)
