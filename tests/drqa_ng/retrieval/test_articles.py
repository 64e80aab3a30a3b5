from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from drqa_ng.errors import InputError
from drqa_ng.retrieval.articles import (
    DENSE_WEIGHTS,
    FEATURES,
    ArticleRanker,
    ArticleWeights,
    fused_scores,
    name_keys,
    title_overlap,
    word_share,
)
from drqa_ng.types import Document, Hit
from tests.serving.fakes import FakeRetriever, FakeStore

# "Germany": its Berlin paragraph never says "capital" or "Germany"; "Capitals" repeats both words.
DOCS = (
    Document(
        "g",
        "Germany",
        "Germany is a country in Europe. Germany has many people.\n\nBerlin is its biggest city and seat of government.",
    ),
    Document(
        "c",
        "Capitals of Europe",
        "A capital of Germany or France is a capital city, and capital cities matter.",
    ),
    Document("m", "Munich", "Munich is a city in the south."),
)


TitledStore = FakeStore


def ranker(weights: ArticleWeights, paragraph_k: int = 1) -> ArticleRanker:
    store = TitledStore(DOCS)

    class Shallow(FakeRetriever):  # a paragraph retriever that only ever returns its best hit(s)
        def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
            return [h[:paragraph_k] for h in super().search(queries, k)]

    return ArticleRanker(Shallow(store), FakeRetriever(store, "doc"), store, weights)


def test_pure_pieces() -> None:
    assert name_keys("Who wrote the novel 1984?")[:4] == ["wrote", "novel", "1984", "who wrote"]
    assert "the novel 1984" in name_keys("Who wrote the novel 1984?")
    assert title_overlap({"capital", "germany"}, "Germany") == 1.0
    assert title_overlap({"hobbit"}, "The Hobbit (2012 movie)") == 1.0
    assert title_overlap({"capital"}, "Capitals of Europe") == 0.0
    assert word_share({"capital", "germany"}, "Germany is big.") == 0.5
    x = np.eye(len(FEATURES))
    assert fused_scores(x, np.arange(len(FEATURES), dtype=float)).tolist() == list(range(len(FEATURES)))


def test_article_signals_lift_the_named_articles_paragraph_the_paragraph_retriever_missed() -> None:
    q = "What is the capital of Germany?"
    alone = ranker(ArticleWeights(doc=0, named=0, title=0, words=0, expand=0))
    assert alone.search([q], 3)[0][0].id == "c#p0"  # the paragraph retriever's pick
    r = ranker(ArticleWeights(para=1, doc=0.5, named=1, title=0.5, words=0.0))
    hits = r.search([q], 3)[0]
    assert hits[0].doc_id == "g"  # Germany's paragraphs come in by its name and outrank "Capitals"
    assert {"g#p0", "g#p1"} <= {h.id for h in hits}
    (sig,) = [s for s in r.signals([q], 3)[0] if s.hit.id == "g#p1"]
    assert sig.signals.named == 1.0 and sig.signals.title == 1.0
    assert sig.signals.para_rank == 0 and sig.signals.para == 0.0


def test_zero_article_weights_keep_the_paragraph_order() -> None:
    store = TitledStore(DOCS)
    para = FakeRetriever(store)
    r = ArticleRanker(
        para, FakeRetriever(store, "doc"), store, ArticleWeights(doc=0, named=0, title=0, words=0, expand=0)
    )
    q = "Munich city in Germany"
    assert [h.id for h in r.search([q], 4)[0]] == [h.id for h in para.search([q], 4)[0]]


def test_article_index_must_hold_docs_and_k_must_be_positive() -> None:
    store = TitledStore(DOCS)
    with pytest.raises(InputError):
        ArticleRanker(FakeRetriever(store), FakeRetriever(store), store)
    with pytest.raises(InputError):
        ArticleRanker(FakeRetriever(store), FakeRetriever(store, "doc"), store).search(["x"], 0)


class _Vectors(FakeRetriever):
    """A paragraph retriever with stored vectors: 'Berlin' paragraphs are close to every question."""

    class manifest:  # mimics DenseIndex.manifest.encoder.backend
        class encoder:
            backend = "onnx-int8"

    def __init__(self, store: FakeStore) -> None:
        super().__init__(store)
        self.asked: list[list[str]] = []

    def similarities(self, queries: Sequence[str], ids: Sequence[Sequence[str]]) -> list[np.ndarray]:
        self.asked.append(list(queries))
        return [np.array([0.9 if i == "g#p1" else (np.nan if i == "m#p0" else 0.1) for i in g]) for g in ids]


def test_dense_similarity_reranks_the_whole_pool_only_when_weighted() -> None:
    from drqa_ng.retrieval.articles import vector_scorer
    from drqa_ng.retrieval.fusion import HybridRetriever

    store = TitledStore(DOCS)
    dense = _Vectors(store)
    hybrid = HybridRetriever([FakeRetriever(store), dense])
    assert vector_scorer(hybrid) is dense and vector_scorer(FakeRetriever(store)) is None

    class Upgrading:
        current = hybrid

    assert vector_scorer(Upgrading()) is dense
    dense.manifest.encoder.backend = "static"
    try:
        assert vector_scorer(hybrid) is None  # static vectors are not used for this
    finally:
        dense.manifest.encoder.backend = "onnx-int8"
    q = "Munich city in Germany"
    lexical = ArticleWeights(doc=0, named=0, title=0, words=0, expand=3)
    r = ArticleRanker(hybrid, FakeRetriever(store, "doc"), store, lexical)
    assert r.search([q], 1)[0][0].id != "g#p1" and dense.asked == []  # weight 0: never asked
    r = ArticleRanker(
        hybrid,
        FakeRetriever(store, "doc"),
        store,
        ArticleWeights(doc=0, named=0, title=0, words=0, dense=5.0),
    )
    [top] = r.signals([q], 1)[0]
    assert top.hit.id == "g#p1" and top.signals.dense == pytest.approx(0.9)
    [c] = r.candidates([q], 3)
    assert c.features[c.ids.index("m#p0"), FEATURES.index("dense")] == 0.0  # not in the index: 0
    # without weights given, the ranker takes the ones fit for the retriever it holds now
    assert ArticleRanker(hybrid, FakeRetriever(store, "doc"), store).weights == DENSE_WEIGHTS
    lexical_only = ArticleRanker(FakeRetriever(store), FakeRetriever(store, "doc"), store)
    assert lexical_only.weights == ArticleWeights() and DENSE_WEIGHTS.dense > 0
