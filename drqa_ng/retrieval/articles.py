"""Document-aware paragraph ranking: a paragraph is also scored by the article it belongs to.

Paragraph retrieval scores each paragraph alone, so the paragraph of "Germany" that names Berlin
loses to paragraphs elsewhere that repeat "capital" and "Germany". Article retrieval does not have
that problem (DrQA reads whole top-5 articles). ``ArticleRanker`` fuses both, per question q:

1. Candidates: the paragraph retriever's top ``depth`` paragraphs, plus every paragraph of the
   ``expand`` best articles and of the articles a question n-gram names exactly (their title).
2. Features of a candidate paragraph p of article d:

   - ``para(p)``  = s_par(p) / max s_par over the candidates (0 when p was not retrieved)
   - ``doc(d)``   = s_doc(d) / max s_doc over the doc index's top ``doc_depth`` (0 outside it)
   - ``named(d)`` = 1 when d's title equals a question n-gram (case-folded), else 0
   - ``title(d)`` = |W(title_d) ∩ W(q)| / |W(title_d)|, W = content words, the title's
     parenthetical ("(2012 movie)") dropped
   - ``words(p)`` = |W(q) ∩ W(p ∪ title_d)| / |W(q)|, the share of question words the paragraph or
     its article's title holds
   - ``dense(p)`` = e(q) · v_p, the cosine of the question's vector and the paragraph's stored vector
     in the home's dense (MiniLM) index, for every candidate, retrieved by it or not (0 without
     such an index, or when its weight is 0). A bi-encoder rerank of the whole pool at the cost of a
     vector lookup: the paragraph vectors were computed at index time.

3. score(p) = w_para·para + w_doc·doc + w_named·named + w_title·title + w_words·words
   + w_dense·dense, best ``k`` first.

The weights (``ArticleWeights``) are fit on train splits only (``scripts/fit_article_ranking.py``).
Without an article index nothing changes: ``quickstart`` builds one only over paragraph units (a
passage or document index has no article above its units), and a home built before it has none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.content import content_words, visible
from drqa_ng.retrieval.tokenize import STOPWORDS, token_texts
from drqa_ng.types import Hit, Passage, Unit

FEATURES = ("para", "doc", "named", "title", "words", "dense")
MAX_NAME_WORDS = 4
_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
_EDGE = re.compile(r"^[^\w]+|[^\w]+$", re.UNICODE)


class ArticleStore(Protocol):
    """What the ranker reads from the doc store (``DocStore`` implements it)."""

    def get_titles(self, ids: Sequence[str]) -> list[str | None]: ...

    def titled(self, keys: Sequence[str]) -> list[str]: ...

    def get_units(self, doc_ids: Sequence[str], unit: Unit) -> list[list[Passage]]: ...

    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]: ...


class VectorScorer(Protocol):
    """Scores given units for queries with stored vectors (``retrieval.dense.DenseIndex``)."""

    def similarities(self, queries: Sequence[str], ids: Sequence[Sequence[str]]) -> list[np.ndarray]: ...


def vector_scorer(retriever: object) -> VectorScorer | None:
    """The transformer dense index inside ``retriever`` (itself, a child of a hybrid, or the current
    retriever of an upgrading one), else None. Static-vector indexes do not count: their cosine
    added nothing to the ranking on the tune halves (docs/retrieval.md)."""
    manifest = getattr(retriever, "manifest", None)
    if hasattr(retriever, "similarities") and manifest is not None:
        return retriever if getattr(manifest.encoder, "backend", "") != "static" else None
    for child in getattr(retriever, "retrievers", ()):
        found = vector_scorer(child)
        if found is not None:
            return found
    current = getattr(retriever, "current", None)
    return vector_scorer(current) if current is not None else None


@dataclass(frozen=True, slots=True)
class ArticleWeights:
    """Weights of the fused score (module docstring) and the candidate depths.

    Defaults: fit by ``scripts/fit_article_ranking.py`` on the tune halves of WebQuestions,
    CuratedTREC, WikiMovies, QED train and SQuAD part-A train articles (Simple English Wikipedia,
    BM25 + static paragraphs, TF-IDF articles); docs/retrieval.md has the grid and the held-out figures.
    ``DENSE_WEIGHTS`` are the ones fit where a MiniLM dense index is fused in.
    """

    para: float = 1.0
    doc: float = 0.5
    named: float = 0.5
    title: float = 0.25
    words: float = 2.0
    dense: float = 0.0
    depth: int = 100
    doc_depth: int = 50
    expand: int = 3

    def vector(self) -> np.ndarray:
        return np.array(
            [self.para, self.doc, self.named, self.title, self.words, self.dense], dtype=np.float64
        )


DENSE_WEIGHTS = ArticleWeights(doc=0.5, named=0.0, title=0.0, words=4.0, dense=4.0)
"""The weights where the paragraph retriever holds a MiniLM dense index (the data home after its
background build): the same grid search with the dense cosine among the features, on the tune halves
(``scripts/fit_article_ranking.py`` on BM25 + MiniLM, interp 0.7; docs/retrieval.md). With the
cosine of every candidate known, the title features stop adding anything."""


@dataclass(frozen=True, slots=True)
class PassageSignals:
    """What the ranker knew about one paragraph: ``para`` (ratio to the best paragraph score) and its
    1-based rank in the paragraph retriever (0 = not retrieved, came in by article expansion), the
    article's ``doc`` ratio and rank in the doc index (0 = outside its top), ``named``, ``title``,
    ``words`` and ``dense`` (module docstring)."""

    para: float = 0.0
    para_rank: int = 0
    doc: float = 0.0
    doc_rank: int = 0
    named: float = 0.0
    title: float = 0.0
    words: float = 0.0
    dense: float = 0.0


@dataclass(frozen=True, slots=True)
class Signals:
    """One ranked candidate: its hit (score = the fused score) and what the ranker knew about it."""

    hit: Hit
    signals: PassageSignals


@dataclass(frozen=True, slots=True)
class Candidates:
    """One question's candidate paragraphs: ids, doc ids, features (rows, ``FEATURES`` columns),
    1-based ranks in the paragraph retriever and the doc index (0 = absent) and texts."""

    ids: tuple[str, ...]
    doc_ids: tuple[str, ...]
    features: np.ndarray
    para_rank: tuple[int, ...]
    doc_rank: tuple[int, ...]
    texts: tuple[str, ...]


def name_keys(question: str, max_words: int = MAX_NAME_WORDS) -> list[str]:
    """Case-folded word n-grams (1..``max_words``) of ``question`` that could be an article title;
    edge punctuation stripped, single stopwords dropped (``store.docstore.title_key`` form)."""
    words = [_EDGE.sub("", w).casefold() for w in visible(question).split()]
    words = [w for w in words if w]
    keys: list[str] = []
    for n in range(1, max_words + 1):
        for i in range(len(words) - n + 1):
            gram = words[i : i + n]
            if n == 1 and gram[0] in STOPWORDS:
                continue
            keys.append(" ".join(gram))
    return list(dict.fromkeys(keys))


def title_overlap(question_words: set[str], title: str) -> float:
    """|W(title) ∩ question_words| / |W(title)|, W = content words, a trailing "(...)" dropped."""
    words = set(content_words(_PAREN.sub("", title)))
    return len(words & question_words) / len(words) if words else 0.0


def word_share(question_words: set[str], text: str) -> float:
    """|question_words ∩ tokens(text)| / |question_words| (0.0 for no question words)."""
    if not question_words:
        return 0.0
    return len(question_words.intersection(token_texts(text))) / len(question_words)


def fused_scores(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """score = features @ weights: one row per candidate, columns in ``FEATURES`` order."""
    return np.asarray(features, dtype=np.float64).reshape(-1, len(FEATURES)) @ weights


class ArticleRanker:
    """A paragraph ``Retriever`` that reranks ``paragraphs`` with ``documents`` (a doc-unit index)
    and the store's titles; see the module docstring. Batch ``search``; ``signals`` keeps features."""

    def __init__(
        self,
        paragraphs: Retriever,
        documents: Retriever,
        store: ArticleStore,
        weights: ArticleWeights | None = None,
    ) -> None:
        if documents.unit != "doc":
            raise InputError(f"the article index must hold doc units, not {documents.unit!r}")
        self.paragraphs = paragraphs
        self.documents = documents
        self.store = store
        self._weights = weights

    @property
    def weights(self) -> ArticleWeights:
        """The weights given, else the defaults for the paragraph retriever in use now (it may change
        under an upgrading retriever): ``DENSE_WEIGHTS`` over a MiniLM dense index, else
        ``ArticleWeights()``."""
        return self._weights_and_scorer()[0]

    def _weights_and_scorer(self) -> tuple[ArticleWeights, VectorScorer | None]:
        scorer = vector_scorer(self.paragraphs)
        if self._weights is not None:
            return self._weights, scorer
        return (DENSE_WEIGHTS if scorer is not None else ArticleWeights()), scorer

    @property
    def unit(self) -> str:
        return self.paragraphs.unit

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` paragraphs per query by the fused score (the ``Hit.score``)."""
        return [[s.hit for s in sig] for sig in self.signals(queries, k)]

    def signals(self, queries: Sequence[str], k: int) -> list[list[Signals]]:
        """Top ``k`` candidates per query with their features, best first."""
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        weights = self.weights.vector()
        return [self.top(c, k, weights) for c in self.candidates(queries, k)]

    def top(self, c: Candidates, k: int, weights: np.ndarray | None = None) -> list[Signals]:
        """The best ``k`` of one question's candidates under ``weights`` (default: this ranker's)."""
        if not c.ids:
            return []
        scores = fused_scores(c.features, self.weights.vector() if weights is None else weights)
        order = sorted(range(len(c.ids)), key=lambda j: (-scores[j], c.para_rank[j] or 1 << 30, c.ids[j]))[:k]
        return [
            Signals(
                Hit(c.ids[j], c.doc_ids[j], float(scores[j])),
                PassageSignals(
                    para=float(c.features[j, 0]),
                    para_rank=c.para_rank[j],
                    doc=float(c.features[j, 1]),
                    doc_rank=c.doc_rank[j],
                    named=float(c.features[j, 2]),
                    title=float(c.features[j, 3]),
                    words=float(c.features[j, 4]),
                    dense=float(c.features[j, 5]),
                ),
            )
            for j in order
        ]

    def candidates(self, queries: Sequence[str], k: int = 1, dense: bool | None = None) -> list[Candidates]:
        """Every candidate paragraph of each query with its features (step 1 and 2 above); ``dense``:
        compute the dense cosine (None: when its weight is not 0)."""
        w, scorer = self._weights_and_scorer()
        para_hits = self.paragraphs.search(queries, max(w.depth, k))
        doc_hits = self.documents.search(queries, w.doc_depth)
        out = [
            self._candidates(q, ph, dh, w.expand)
            for q, ph, dh in zip(queries, para_hits, doc_hits, strict=True)
        ]
        if scorer is not None and out and (w.dense != 0 if dense is None else dense):
            sims = scorer.similarities(list(queries), [c.ids for c in out])
            for c, sim in zip(out, sims, strict=True):
                c.features[:, 5] = np.nan_to_num(sim, nan=0.0)
        return out

    def _candidates(
        self, question: str, para_hits: Sequence[Hit], doc_hits: Sequence[Hit], expand: int
    ) -> Candidates:
        qwords = set(content_words(question))
        doc_top = max((h.score for h in doc_hits), default=0.0)
        doc_norm = {h.doc_id: (h.score / doc_top if doc_top > 0 else 0.0) for h in doc_hits}
        doc_rank = {h.doc_id: r for r, h in enumerate(doc_hits, 1)}
        named = set(self.store.titled(name_keys(question)))
        para_top = max((h.score for h in para_hits), default=0.0)
        para_score = {h.id: h.score for h in para_hits}
        para_rank = {h.id: r for r, h in enumerate(para_hits, 1)}
        # candidates: retrieved paragraphs, then every paragraph of the best and the named articles
        extra_docs = [h.doc_id for h in doc_hits[:expand]] + sorted(named)
        passages: dict[str, Passage] = {}
        for p in self.store.get_passages([h.id for h in para_hits]):
            if p is not None:
                passages[p.id] = p
        for ps in self.store.get_units(list(dict.fromkeys(extra_docs)), "paragraph"):
            for p in ps:
                passages.setdefault(p.id, p)
        ids = list(passages)
        doc_ids = [passages[i].doc_id for i in ids]
        uniq = list(dict.fromkeys(doc_ids))
        titles = dict(zip(uniq, self.store.get_titles(uniq), strict=True))
        title_of = {d: title_overlap(qwords, t or "") for d, t in titles.items()}
        feats = np.array(
            [
                [
                    para_score.get(i, 0.0) / para_top if para_top > 0 else 0.0,
                    doc_norm.get(d, 0.0),
                    1.0 if d in named else 0.0,
                    title_of[d],
                    word_share(qwords, f"{titles[d] or ''}\n{passages[i].text}"),
                    0.0,  # dense: filled in by ``candidates`` where a dense index is there
                ]
                for i, d in zip(ids, doc_ids, strict=True)
            ],
            dtype=np.float64,
        ).reshape(len(ids), len(FEATURES))
        return Candidates(
            tuple(ids),
            tuple(doc_ids),
            feats,
            tuple(para_rank.get(i, 0) for i in ids),
            tuple(doc_rank.get(d, 0) for d in doc_ids),
            tuple(passages[i].text for i in ids),
        )
