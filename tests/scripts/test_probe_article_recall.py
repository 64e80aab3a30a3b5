"""scripts/probe_article_recall.py: article and paragraph recall of the same questions, and the pool."""

from __future__ import annotations

from types import ModuleType

from drqa_ng.evaluation.datasets import Question
from drqa_ng.retrieval.articles import ArticleRanker
from tests.drqa_ng.retrieval.test_articles import DOCS
from tests.scripts.loader import load_script
from tests.serving.fakes import FakeRetriever, FakeStore


def _script() -> ModuleType:
    return load_script("probe_article_recall")


def test_first_hit_and_recall() -> None:
    mod = _script()
    assert mod.first_hit([False, False, True, True]) == 3
    assert mod.first_hit([False]) == 0 and mod.first_hit([]) == 0
    ranks = [1, 3, 0, 6]
    assert mod.recall(ranks, 1) == 25.0
    assert mod.recall(ranks, 5) == 50.0  # a miss (0) never counts, rank 6 is past k
    assert mod.recall([], 5) == 0.0


def test_measure_counts_articles_paragraphs_and_the_pool() -> None:
    mod = _script()
    store = FakeStore(DOCS)
    ranker = ArticleRanker(FakeRetriever(store), FakeRetriever(store, "doc"), store)
    qs = [
        Question("berlin", "What is the capital of Germany?", ("Berlin",)),
        Question("none", "What is the capital of Germany?", ("Atlantis",)),
    ]
    m = mod.measure(ranker, store, qs, regex=False)
    assert m["n"] == 2
    # "Berlin" is in Germany's text, an article among the (three) retrieved: found by k = 20, not the other
    assert m["article"][20] == 50.0 and m["paragraph"][20] == 50.0 and m["pool"] == 50.0
    assert m["article"][1] <= m["article"][5] <= m["article"][20]
    assert m["paragraphs_in_top5_articles"] == sum(len(store.get_units([d.id], "paragraph")[0]) for d in DOCS)
