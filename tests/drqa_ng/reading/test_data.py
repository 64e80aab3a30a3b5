from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.reading.data import load_examples

SQUAD = {
    "data": [
        {
            "title": "Keep",
            "paragraphs": [
                {
                    "context": "Paris is the capital of France.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Capital of France?",
                            "answers": [{"text": "Paris", "answer_start": 0}],
                        },
                        {
                            "id": "q2",
                            "question": "Which country?",
                            "answers": [{"text": "France", "answer_start": 99}],
                        },
                    ],
                }
            ],
        },
        {
            "title": "Drop",
            "paragraphs": [
                {
                    "context": "x y",
                    "qas": [{"id": "q3", "question": "?", "answers": [{"text": "y", "answer_start": 2}]}],
                }
            ],
        },
    ]
}


def test_squad_json_with_article_filter_and_start_repair(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    p.write_text(json.dumps(SQUAD))
    ex = load_examples(p, articles={"Keep"})
    assert [e.id for e in ex] == ["q1", "q2"]
    assert ex[1].answer_starts == (ex[1].context.index("France"),)
    assert len(load_examples(p)) == 3


def test_unified_jsonl_gz_drops_excluded_titles(tmp_path: Path) -> None:
    rows = [
        {
            "id": "a",
            "source": "s",
            "title": "Black Death",
            "context": "It was plague.",
            "question": "What?",
            "answers": [{"text": "plague", "answer_start": 7}],
        },
        {
            "id": "b",
            "source": "s",
            "title": None,
            "context": "Cats purr .",
            "question": "Who purrs ?",
            "answers": [{"text": "Cats", "answer_start": 0}],
        },
    ]
    p = tmp_path / "u.jsonl.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    ex = load_examples(p, exclude_titles=["Black_Death"])
    assert [e.id for e in ex] == ["b"]
    assert ex[0].answers == ("Cats",) and ex[0].title == ""


def test_question_only_file_and_missing_file_are_errors(tmp_path: Path) -> None:
    p = tmp_path / "noctx.jsonl"
    p.write_text(json.dumps({"id": "x", "question": "q?", "answer": "a"}) + "\n")
    with pytest.raises(DataFormatError, match="context"):
        load_examples(p)
    with pytest.raises(NotFoundError):
        load_examples(tmp_path / "none.jsonl")


def test_spare_titles_keeps_listed_articles_by_title_key() -> None:
    from drqa_ng.reading.data import spare_titles

    exclude = ["Black_Death", "Normans", "Super Bowl 50"]
    assert spare_titles(exclude, ["black death", "Super_Bowl_50"]) == ["Normans"]
    assert spare_titles(exclude, None) == sorted(exclude)
