"""A question's answers and scores do not depend on the other questions read with it (issue 13, item 1).

Dynamic int8 quantisation computes activation scales over the whole input tensor and padding changes
kernel shapes, so a reader that runs several questions' windows as one padded batch gives a question
different scores (and, with int8, a different ranking) depending on its neighbours. Checked on every
backend: torch, ONNX fp32, ONNX int8.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.reading.reader import SpanReader, load_reader
from drqa_ng.types import Answer, Passage
from tests.fixtures.corpus import TINY_DOCS, TINY_FACTS, long_document

TOP_N = 5


def _items() -> tuple[list[str], list[list[Passage]]]:
    """40 (question, passages) items of varied length: some passages span several 64-token windows."""
    paras = [p for d in TINY_DOCS[:9] for p in d.text.split("\n\n") if len(p) > 20]
    paras.append(" ".join(long_document().text.split("\n\n")[95:105]))
    questions = [q for q, _, _ in TINY_FACTS] + [f"What happened in {1000 + 7 * i}?" for i in range(30)]
    passages = []
    for i, _ in enumerate(questions):
        chosen = [paras[(i * 3 + k) % len(paras)] for k in range(1 + i % 3)]
        passages.append([Passage(f"d{i}#p{k}", f"d{i}", "t", t, 0, len(t)) for k, t in enumerate(chosen)])
    return questions, passages


def _key(answers: list[Answer]) -> list[tuple[str, str, int, int]]:
    return [(a.passage.id, a.text, a.start, a.end) for a in answers]


def _check(reader: SpanReader) -> None:
    questions, passages = _items()
    alone = [reader.read([q], [p], top_n=TOP_N)[0] for q, p in zip(questions, passages, strict=True)]
    assert any(len(a) > 1 for a in alone)
    for size in (2, 7, 32):
        for lo in (0, 5):  # each question at a different position, with different neighbours
            idx = [(lo + k) % len(questions) for k in range(size)]
            batch = reader.read([questions[i] for i in idx], [passages[i] for i in idx], top_n=TOP_N)
            for i, got in zip(idx, batch, strict=True):
                assert _key(got) == _key(alone[i]), f"question {i} in a batch of {size}"
                # exactly equal, not just close: each window is computed alone, so bit for bit
                assert [a.score for a in got] == [a.score for a in alone[i]]


@pytest.mark.slow
def test_torch_reader_answers_do_not_depend_on_the_batch(tiny_model_dir: Path) -> None:
    _check(load_reader(tiny_model_dir, backend="torch"))


@pytest.mark.slow
def test_onnx_fp32_reader_answers_do_not_depend_on_the_batch(tiny_onnx_dir: Path) -> None:
    _check(load_reader(tiny_onnx_dir.parent / "fp32", backend="onnx"))


@pytest.mark.slow
def test_onnx_int8_reader_answers_do_not_depend_on_the_batch(tiny_onnx_dir: Path) -> None:
    _check(load_reader(tiny_onnx_dir, backend="onnx"))
