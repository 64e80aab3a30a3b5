"""Training examples for the reader: SQuAD v1.1 JSON and the unified reader-train JSON lines.

Unified layout: ``{"id", "source", "title", "context", "question", "answers": [{"text", "answer_start"}]}``.
Files without paragraphs (the ``noctx`` file) are rejected with a clear error; examples whose title is in
``exclude_titles`` (SQuAD dev titles, to keep validation clean) are dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.inputs import open_text, read_json, squad_qas
from drqa_ng.store.docstore import title_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TeacherLabel:
    """A teacher reader's view of one (question, context): its highest start and end logits, each at
    the character where its token starts (``starts``) or ends, exclusive (``ends``). Characters, not
    tokens, so a student with another tokenizer can learn from it (``reading.distill``)."""

    starts: tuple[tuple[int, float], ...]
    ends: tuple[tuple[int, float], ...]

    def as_json(self) -> dict[str, list[list[float]]]:
        return {
            "start": [[c, round(v, 3)] for c, v in self.starts],
            "end": [[c, round(v, 3)] for c, v in self.ends],
        }


@dataclass(frozen=True, slots=True)
class QAExample:
    """One extractive QA example: the first gold answer is the training target; all golds score eval.

    An example may have no gold answer when a ``teacher`` label stands in (a retrieved paragraph
    labelled by the teacher): it trains only through distillation."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    title: str = ""
    teacher: TeacherLabel | None = None
    negative: bool = False  # a retrieved paragraph known not to hold the answer (shared-norm training)

    @property
    def has_gold(self) -> bool:
        return bool(self.answers) and self.answer_starts[0] >= 0


def parse_teacher(obj: Any) -> TeacherLabel:
    """A ``TeacherLabel`` from its JSON form ``{"start": [[char, logit], ...], "end": [...]}``."""
    return TeacherLabel(
        tuple((int(c), float(v)) for c, v in obj["start"]), tuple((int(c), float(v)) for c, v in obj["end"])
    )


def _fix_start(context: str, text: str, start: int) -> int:
    """The answer's char offset in ``context``: ``start`` when it points at ``text``, else the first match."""
    if start >= 0 and context[start : start + len(text)] == text:
        return start
    return context.find(text)


def _example(qid: str, question: str, ctx: str, answers: Any, title: str) -> QAExample | None:
    """A training example from SQuAD-style ``answers`` (dicts with text/answer_start); None without any."""
    golds = [a for a in answers if isinstance(a, dict) and a.get("text")]
    if not golds:
        return None
    return QAExample(
        id=qid,
        question=question,
        context=ctx,
        answers=tuple(str(a["text"]) for a in golds),
        answer_starts=tuple(_fix_start(ctx, str(a["text"]), int(a.get("answer_start", -1))) for a in golds),
        title=title,
    )


def _from_squad(data: Any, path: Path, articles: set[str] | None) -> Iterator[QAExample]:
    for title, ctx, qa in squad_qas(data, path, articles):
        ex = _example(str(qa.get("id", "")), str(qa["question"]), ctx, qa.get("answers", []), title)
        if ex is not None:
            yield ex


def _from_jsonl(
    f: TextIO, path: Path, articles: set[str] | None, unanswered: bool = False
) -> Iterator[QAExample]:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(f"{path}:{lineno}: invalid JSON: {e}") from e
        if "context" not in obj:
            raise DataFormatError(
                f"{path}:{lineno}: no 'context' (a question-only file such as the noctx file cannot train a reader)"
            )
        title = str(obj.get("title") or "")
        if articles is not None and title not in articles:
            continue
        qid = str(obj.get("id", f"{path.name}:{lineno}"))
        ex = _example(qid, str(obj["question"]), str(obj["context"]), obj.get("answers", []), title)
        if "teacher" in obj:
            try:
                label = parse_teacher(obj["teacher"])
            except (KeyError, TypeError, ValueError) as e:
                raise DataFormatError(f"{path}:{lineno}: bad 'teacher' label: {e}") from e
            ex = (
                replace(ex, teacher=label)
                if ex is not None
                else QAExample(qid, str(obj["question"]), str(obj["context"]), (), (), title, label)
            )
        elif ex is None and obj.get("negative") is True and not obj.get("answers"):
            ex = QAExample(qid, str(obj["question"]), str(obj["context"]), (), (), title, negative=True)
        elif ex is None and unanswered and not obj.get("answers"):
            ex = QAExample(qid, str(obj["question"]), str(obj["context"]), (), (), title)
        if ex is not None:
            yield ex


def spare_titles(exclude: Iterable[str], keep: Iterable[str] | None) -> list[str]:
    """``exclude`` without the titles of ``keep`` (by ``title_key``): an article list that asks for
    SQuAD dev articles (part A's train half) wins over the blanket list of SQuAD dev titles."""
    kept = {title_key(t) for t in keep or ()}
    return sorted(t for t in exclude if title_key(t) not in kept)


def load_examples(
    path: Path | str,
    articles: Iterable[str] | None = None,
    exclude_titles: Iterable[str] = (),
    unanswered: bool = False,
) -> list[QAExample]:
    """Load SQuAD JSON (``.json``) or unified JSON lines (``.jsonl[.gz]``).

    ``articles`` keeps only those titles (SQuAD article-list splits); ``exclude_titles`` drops titles
    (compared by the doc store's ``title_key``: underscores and spaces alike, case-folded, so
    ``Black_Death`` also drops ``Black Death``).
    Examples whose answer cannot be located in the context are dropped with a log line.
    ``unanswered`` also keeps JSON-lines examples with no answers and no teacher label (the retrieved
    paragraphs ``label-reader`` labels); training never asks for them. A line with ``"negative": true``
    and no answers is kept as a negative: a retrieved paragraph of a question whose other paragraphs
    hold the answer (it trains only under ``TrainConfig.shared_norm``).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"training file not found: {path}")
    keep = set(articles) if articles is not None else None
    drop = {title_key(t) for t in exclude_titles}
    name = path.name.removesuffix(".gz")
    with open_text(path) as f:
        if name.endswith(".json"):
            raw = list(_from_squad(read_json(f, path), path, keep))
        else:
            raw = list(_from_jsonl(f, path, keep, unanswered))
    out = [
        ex
        for ex in raw
        if (ex.has_gold or ex.teacher is not None or ex.negative or (unanswered and not ex.answers))
        and title_key(ex.title) not in drop
    ]
    if len(out) != len(raw):
        log.info(
            "%s: dropped %d of %d examples (excluded title or unlocatable answer)",
            path,
            len(raw) - len(out),
            len(raw),
        )
    return out
