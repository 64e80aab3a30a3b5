"""Question files: SQuAD v1.1 JSON and DrQA's JSON-lines format A ``{"question", "answer": [...]}``.

Both load into ``Question`` values; SQuAD questions also carry their article title and context so
reader evaluation and article filters (train/validation article lists) work on them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from drqa_ng.errors import DataFormatError, NotFoundError


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    title: str = ""
    context: str = ""
    answer_starts: tuple[int, ...] = ()


def open_text(path: Path) -> TextIO:
    """A UTF-8 text file, gunzipped on the fly when it ends in ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_article_list(path: Path) -> set[str]:
    """One article title a line (blank lines and ``#`` comments ignored)."""
    if not Path(path).is_file():
        raise NotFoundError(f"article list not found: {path}")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def read_json(f: TextIO, path: Path) -> Any:
    """``json.load`` whose syntax errors become a DataFormatError naming ``path``."""
    try:
        return json.load(f)
    except json.JSONDecodeError as e:
        raise DataFormatError(f"{path}: invalid JSON: {e}") from e


def squad_qas(data: Any, path: Path, articles: set[str] | None) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(title, context, qa)`` for every question of a parsed SQuAD JSON file, optionally only ``articles``."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataFormatError(f"{path}: not a SQuAD file (no top-level 'data' list)")
    for art in data["data"]:
        title = str(art.get("title", ""))
        if articles is not None and title not in articles:
            continue
        for para in art.get("paragraphs", []):
            ctx = str(para.get("context", ""))
            for qa in para.get("qas", []):
                yield title, ctx, qa


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
