"""Question → paragraph training pairs for a retrieval encoder, with BM25 hard negatives (DPR-style).

A pair is (question, positive paragraph, hard negatives). Where the question comes with its gold
paragraph (SQuAD, QED, our reader-training files) that paragraph is the positive; where it comes with
answers only (WebQuestions, CuratedTREC, WikiMovies) the positive is found by distant supervision: the
best-ranked retrieved paragraph that contains an answer (Karpukhin et al. 2020, "Dense Passage
Retrieval", section 5.1, which did the same for those two sets). Hard negatives are the best-ranked
retrieved paragraphs that contain no answer (DPR's "BM25 negatives").

Texts are in the dense index's input format (``title\\ntext``, ``indexing.dense.unit_text``), so an
encoder tuned on them sees what it will encode. Files are gzipped JSON lines, one ``TrainPair`` each.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.protocols import PassageStore, Retriever

AnswerMatch = Callable[[str, Sequence[str], bool], bool]
"""(text, answers, answers are regexes) -> whether an answer occurs in the text. The CLI passes the
evaluation's own recall test (``evaluation.metrics``: DPR's token match, or a regex search), so a
pair's positive is exactly what retrieval recall counts as a hit; retrieval does not import evaluation."""


@dataclass(frozen=True, slots=True)
class PairQuestion:
    """A question to mine a pair for: gold ``context`` (with its ``title``) when known, else answers only."""

    id: str
    question: str
    answers: tuple[str, ...]
    source: str
    context: str = ""
    title: str = ""
    regex: bool = False


@dataclass(frozen=True, slots=True)
class TrainPair:
    """One training pair: the question, its positive text and hard-negative texts (index input format)."""

    id: str
    source: str
    question: str
    positive: str
    negatives: tuple[str, ...]


def encoder_text(title: str, text: str) -> str:
    """The dense index's input for a unit (``indexing.dense.unit_text``): title, newline, text.

    Underscores in titles (SQuAD's ``University_of_Notre_Dame``) become spaces, as the doc store's titles.
    """
    title = title.replace("_", " ").strip()
    return f"{title}\n{text}" if title else text


def mine_pairs(
    questions: Sequence[PairQuestion],
    retriever: Retriever,
    store: PassageStore,
    matches: AnswerMatch,
    k: int = 20,
    negatives: int = 2,
    batch_size: int = 64,
) -> Iterator[TrainPair]:
    """Pairs for ``questions`` (batched retrieval of the top ``k`` units each).

    positive = the gold context if the question has one, else the best-ranked retrieved unit that
    contains an answer (no such unit: the question yields no pair). negatives = the best-ranked
    ``negatives`` retrieved units without an answer, neither the positive itself nor from its article
    (same title: another paragraph of the gold article often answers too, in other words). A question with a
    gold context but no answer-free hit still yields a pair (in-batch negatives remain).
    """
    for lo in range(0, len(questions), batch_size):
        batch = questions[lo : lo + batch_size]
        hits = retriever.search([q.question for q in batch], k)
        ids = sorted({h.id for hs in hits for h in hs})
        passages = {p.id: p for p in store.get_passages(ids) if p is not None}
        for q, hs in zip(batch, hits, strict=True):
            texts = [encoder_text(passages[h.id].title, passages[h.id].text) for h in hs if h.id in passages]
            has = [matches(t, q.answers, q.regex) for t in texts]
            if q.context:
                positive = encoder_text(q.title, q.context)
            else:
                positive = next((t for t, ok in zip(texts, has, strict=True) if ok), "")
            head = positive.split("\n", 1)[0] + "\n" if "\n" in positive else None
            negs = [
                t
                for t, ok in zip(texts, has, strict=True)
                if not ok and t != positive and (head is None or not t.startswith(head))
            ][:negatives]
            if positive:
                yield TrainPair(q.id, q.source, q.question, positive, tuple(negs))


def dev_fold(pair_id: str, share: float) -> bool:
    """True for the ``share`` of pair ids held out for model selection (stable: sha1 of the id)."""
    return int.from_bytes(hashlib.sha1(pair_id.encode()).digest()[:4], "big") < share * 2**32


def write_pairs(path: Path, pairs: Iterable[TrainPair]) -> int:
    """Write pairs as gzipped JSON lines (temp file renamed into place); returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        for p in pairs:
            row = {"id": p.id, "source": p.source, "question": p.question, "positive": p.positive}
            f.write(json.dumps({**row, "negatives": list(p.negatives)}, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def read_pairs(path: Path) -> list[TrainPair]:
    """Read a pairs file written by ``write_pairs``; a malformed line is a ``DataFormatError``."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"pairs file not found: {path}")
    out = []
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                o = json.loads(line)
                pair = TrainPair(
                    str(o["id"]),
                    str(o.get("source", "")),
                    str(o["question"]),
                    str(o["positive"]),
                    tuple(str(t) for t in o.get("negatives", [])),
                )
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise DataFormatError(
                    f"{path}:{lineno}: expected a pair {{id, question, positive}}: {e}"
                ) from e
            if not pair.question.strip() or not pair.positive.strip():
                raise DataFormatError(f"{path}:{lineno}: empty question or positive")
            out.append(pair)
    if not out:
        raise DataFormatError(f"{path}: no pairs")
    return out
