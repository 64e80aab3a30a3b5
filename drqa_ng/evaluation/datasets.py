"""Question files: SQuAD v1.1 JSON and DrQA's JSON-lines format A ``{"question", "answer": [...]}``.

Both load into ``Question`` values; SQuAD questions also carry their article title and context so
reader evaluation and article filters (train/validation article lists) work on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.inputs import open_text, read_json, squad_qas


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    title: str = ""
    context: str = ""
    answer_starts: tuple[int, ...] = ()


def _squad(data: Any, path: Path, articles: set[str] | None) -> Iterator[Question]:
    for title, ctx, qa in squad_qas(data, path, articles):
        answers = qa.get("answers", [])
        yield Question(
            id=str(qa.get("id", "")),
            question=qa["question"],
            answers=tuple(a["text"] for a in answers),
            title=title,
            context=ctx,
            answer_starts=tuple(int(a.get("answer_start", -1)) for a in answers),
        )


def _jsonl(f: TextIO, path: Path) -> Iterator[Question]:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            q = obj["question"]
            ans = obj.get("answer", obj.get("answers", []))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataFormatError(f"{path}:{lineno}: expected {{'question', 'answer': [...]}}: {e}") from e
        if isinstance(ans, str):
            ans = [ans]
        golds = tuple(a["text"] if isinstance(a, dict) else str(a) for a in ans)
        yield Question(id=str(obj.get("id", lineno)), question=str(q), answers=golds)


def load_questions(path: Path | str, articles: Sequence[str] | set[str] | None = None) -> list[Question]:
    """Load SQuAD JSON (``.json``) or JSON lines (``.jsonl``, ``.jsonl.gz``); filter SQuAD by article titles."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"question file not found: {path}")
    keep = set(articles) if articles is not None else None
    name = path.name.removesuffix(".gz")
    with open_text(path) as f:
        if name.endswith(".json"):
            return list(_squad(read_json(f, path), path, keep))
        return list(_jsonl(f, path))
