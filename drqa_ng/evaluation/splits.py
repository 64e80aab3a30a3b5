"""Tune / test halves of the shared question sets, so weights are fit on one half and reported on
the other (never both).

- WebQuestions, CuratedTREC, WikiMovies: by the parity of the first byte of sha1(question id)
  (even = tune, odd = test; stable, independent of file order; as ``scripts/compare_dense_defaults.py``).
- QED (Natural Questions questions): ``qed_train`` = tune, ``qed_dev`` = test.
- SQuAD part A: the train articles = tune, the validation articles = test.

Each half is sampled to ``per_split`` questions with ``random.Random(seed)``.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from drqa_ng.evaluation.datasets import Question, load_questions
from drqa_ng.inputs import read_article_list

SETS = ("webquestions", "curatedtrec", "wikimovies", "qed", "squad")
REGEX_SETS = frozenset({"curatedtrec"})
HALVES = ("tune", "test")


def parity_half(question_id: str) -> str:
    """ "tune" or "test" by the parity of the first byte of sha1(id)."""
    return "tune" if hashlib.sha1(question_id.encode()).digest()[0] % 2 == 0 else "test"


def load_halves(data: Path, name: str) -> dict[str, list[Question]]:
    """Both halves of one set (``SETS``) from the shared data folder, unsampled."""
    if name in ("webquestions", "curatedtrec", "wikimovies"):
        qs = load_questions(data / "qa" / f"{name}-{'dev' if name == 'wikimovies' else 'train'}.jsonl")
        return {h: [q for q in qs if parity_half(q.id) == h] for h in HALVES}
    if name == "qed":
        rt = data / "reader-train"
        return {
            "tune": load_questions(rt / "qed_train.jsonl.gz"),
            "test": load_questions(rt / "qed_dev.jsonl.gz"),
        }
    if name == "squad":
        sq = data / "squad"
        squad = sq / "dev-v1.1-part-A.json"
        return {
            "tune": load_questions(squad, read_article_list(sq / "part-A-train-articles.txt")),
            "test": load_questions(squad, read_article_list(sq / "part-A-validation-articles.txt")),
        }
    raise ValueError(f"unknown question set {name!r}; choose from {', '.join(SETS)}")


def sampled_halves(
    data: Path, per_split: int, seed: int = 0, sets: tuple[str, ...] = SETS
) -> dict[str, dict[str, list[Question]]]:
    """{set: {"tune": [...], "test": [...]}}, each half sampled to at most ``per_split`` questions."""
    out: dict[str, dict[str, list[Question]]] = {}
    for name in sets:
        halves = load_halves(data, name)
        out[name] = {h: random.Random(seed).sample(qs, min(per_split, len(qs))) for h, qs in halves.items()}
    return out
