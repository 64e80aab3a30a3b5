"""drqa_ng.reading.run: which examples each training source keeps."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from drqa_ng.reading.run import RunSpec, TrainFile, load_sources
from drqa_ng.reading.trainset import TrainConfig

CTX = "Paris is the capital of France."


def _jsonl(path: Path, titles: list[str]) -> Path:
    rows = [
        {"id": t, "title": t, "question": "What is the capital of France?", "context": CTX,
         "answers": [{"text": "Paris", "answer_start": 0}]}
        for t in titles
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_labelled_copy_of_the_train_articles_keeps_them_while_other_dev_titles_go(tmp_path: Path) -> None:
    # squad_dev_titles.txt names every SQuAD dev article: the part-A train ones too
    dev_titles = tmp_path / "squad_dev_titles.txt"
    dev_titles.write_text("Train_article\nValidation_article\nOther_dev_article\n")
    train_articles = tmp_path / "train.txt"
    train_articles.write_text("Train_article\n")
    dev_articles = tmp_path / "val.txt"
    dev_articles.write_text("Validation_article\n")
    labelled = _jsonl(
        tmp_path / "dev-v1.labels.jsonl", ["Train_article", "Validation_article", "Other_dev_article"]
    )
    ds = _jsonl(tmp_path / "ds.jsonl", ["Other_dev_article", "Unrelated"])

    def kept(**kw: str) -> dict[str, list[str]]:
        spec = RunSpec(
            train=(TrainFile(str(labelled)), TrainFile(str(ds))),
            config=TrainConfig(),
            dev_articles=str(dev_articles),
            exclude_titles=str(dev_titles),
            **kw,
        )
        sources, _ = load_sources(spec)
        return {s.name: [e.title for e in s.examples] for s in sources}

    assert kept(train_articles=str(train_articles)) == {
        "dev-v1.labels": ["Train_article"],  # the validation article and other dev titles never train
        "ds": ["Unrelated"],
    }
    assert kept() == {"dev-v1.labels": [], "ds": ["Unrelated"]}  # without a train list every dev title goes


def test_a_source_emptied_by_the_filters_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    titles = tmp_path / "dev_titles.txt"
    titles.write_text("Gone\n")
    src = _jsonl(tmp_path / "all_gone.jsonl", ["Gone"])
    spec = RunSpec(train=(TrainFile(str(src)),), config=TrainConfig(), exclude_titles=str(titles))
    with caplog.at_level(logging.WARNING):
        sources, _ = load_sources(spec)
    assert sources[0].examples == []
    assert "no examples left" in caplog.text
