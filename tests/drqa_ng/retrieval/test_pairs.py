"""Question → paragraph pairs: gold or distantly supervised positives, BM25-style hard negatives, files."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.evaluation.metrics import has_answer, regex_in_text
from drqa_ng.retrieval.pairs import (
    PairQuestion,
    TrainPair,
    dev_fold,
    encoder_text,
    mine_pairs,
    read_pairs,
    write_pairs,
)
from drqa_ng.types import Hit, Passage

UNITS = {
    "a#p0": ("Nile", "The Nile flows north through Egypt."),
    "a#p1": ("Nile", "Its length is about 6,650 km."),
    "b#p0": ("Amazon", "The Amazon is the largest river by discharge."),
    "c#p0": ("Congo", "The Congo is the deepest river in the world."),
    "d#p0": ("Paris", "Paris was founded in the 3rd century BC."),
}


def matches(text: str, answers: Sequence[str], regex: bool) -> bool:
    return regex_in_text(text, answers) if regex else has_answer(text, answers)


class FakeRetriever:
    """Returns a fixed ranked list of unit ids per question (the test's BM25)."""

    unit = "paragraph"

    def __init__(self, ranked: dict[str, list[str]]) -> None:
        self.ranked = ranked
        self.calls: list[int] = []

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        self.calls.append(len(queries))
        return [
            [Hit(u, u.split("#")[0], 1.0 / (i + 1)) for i, u in enumerate(self.ranked[q][:k])]
            for q in queries
        ]


class FakeStore:
    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]:
        out: list[Passage | None] = []
        for i in ids:
            if i in UNITS:
                title, text = UNITS[i]
                out.append(Passage(i, i.split("#")[0], title, text, 0, len(text)))
            else:
                out.append(None)
        return out


def test_distant_positive_is_the_best_ranked_answer_paragraph_and_negatives_lack_the_answer() -> None:
    q = PairQuestion("q1", "how long is the nile", ("6,650 km",), "wq")
    r = FakeRetriever({q.question: ["c#p0", "a#p0", "a#p1", "b#p0", "d#p0"]})
    [pair] = list(mine_pairs([q], r, FakeStore(), matches, k=5, negatives=2))
    assert pair.positive == "Nile\nIts length is about 6,650 km."
    # best-ranked answer-free paragraphs, in rank order, none from the positive's article
    assert pair.negatives == (
        "Congo\nThe Congo is the deepest river in the world.",
        "Amazon\nThe Amazon is the largest river by discharge.",
    )
    assert (pair.id, pair.source, pair.question) == ("q1", "wq", q.question)


def test_gold_context_is_the_positive_and_a_question_without_any_answer_yields_no_pair() -> None:
    gold = PairQuestion(
        "g",
        "when was paris founded",
        ("3rd century BC",),
        "squad",
        context="Paris was founded by the Parisii.",
        title="Paris_(city)",
    )
    lost = PairQuestion("l", "who wrote hamlet", ("Shakespeare",), "wq")
    r = FakeRetriever({gold.question: ["d#p0", "b#p0"], lost.question: ["b#p0", "c#p0"]})
    pairs = list(mine_pairs([gold, lost], r, FakeStore(), matches, k=5, negatives=3, batch_size=1))
    assert [p.id for p in pairs] == ["g"]
    assert pairs[0].positive == "Paris (city)\nParis was founded by the Parisii."
    assert pairs[0].negatives == ("Amazon\nThe Amazon is the largest river by discharge.",)
    assert r.calls == [1, 1]  # one batch per question with batch_size 1


def test_regex_answers() -> None:
    q = PairQuestion("t", "deepest river", (r"[Cc]ongo",), "trec", regex=True)
    r = FakeRetriever({q.question: ["a#p0", "c#p0"]})
    [pair] = list(mine_pairs([q], r, FakeStore(), matches, k=2))
    assert pair.positive.startswith("Congo\n") and pair.negatives == (
        "Nile\nThe Nile flows north through Egypt.",
    )


def test_encoder_text_matches_the_dense_index_input() -> None:
    assert encoder_text("Black_Death", "x") == "Black Death\nx"
    assert encoder_text("", "x") == "x"


def test_write_read_round_trip_and_errors(tmp_path: Path) -> None:
    pairs = [TrainPair("1", "s", "q?", "pos", ("n1", "n2")), TrainPair("2", "s", "é?", "p2", ())]
    path = tmp_path / "p.jsonl.gz"
    assert write_pairs(path, iter(pairs)) == 2
    assert read_pairs(path) == pairs
    with pytest.raises(NotFoundError):
        read_pairs(tmp_path / "none.jsonl.gz")
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as f:
        f.write('{"id": "1", "question": "q"}\n')
    with pytest.raises(DataFormatError, match=r"bad\.jsonl\.gz:1"):
        read_pairs(bad)
    empty = tmp_path / "empty.jsonl.gz"
    with gzip.open(empty, "wt") as f:
        f.write("\n")
    with pytest.raises(DataFormatError, match="no pairs"):
        read_pairs(empty)
    blank = tmp_path / "blank.jsonl.gz"
    with gzip.open(blank, "wt") as f:
        f.write('{"id": "1", "question": " ", "positive": "p"}\n')
    with pytest.raises(DataFormatError, match="empty question"):
        read_pairs(blank)


def test_dev_fold_is_stable_and_near_its_share() -> None:
    ids = [f"q{i}" for i in range(4000)]
    held = [i for i in ids if dev_fold(i, 0.15)]
    assert 0.13 < len(held) / len(ids) < 0.17
    assert held == [i for i in ids if dev_fold(i, 0.15)]
    assert not any(dev_fold(i, 0.0) for i in ids)
    assert set(held) <= {i for i in ids if dev_fold(i, 0.3)}  # a larger share holds out a superset
