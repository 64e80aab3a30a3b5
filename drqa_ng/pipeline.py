"""End-to-end question answering: retriever → doc store → reader → ranked, deduplicated answers.

The chain is fixed (DrQA's): for a batch of questions the retriever returns the top ``k`` units,
the doc store turns their ids into passages (whole-document hits become the store's paragraphs,
as DrQA reads articles paragraph by paragraph), the reader extracts candidate spans, and each candidate is ranked by

    score = reader_score + answer_weight · norm(retriever_score)

where ``norm`` min-max scales the retriever scores of one question's hits to [0, 1] (linear
interpolation of reader and retriever evidence as in BERTserini, Yang et al. 2019, "End-to-End
Open-Domain Question Answering with BERTserini"; DrQA itself uses weight 0). ``answer_weight`` is meant to
be tuned on a dev split (``drqa_ng.evaluation.qa.tune_weight``), never on the reported split.
Spans with the same normalised text are merged and their softmax mass summed; each answer gets a
calibrated ``confidence`` (``drqa_ng.confidence``), answers are ordered by it, and a question whose
best confidence is below ``min_confidence`` is flagged ``abstained`` (its answers are kept).
A question with no content the index knows (only stopwords or invisible characters; with the
corpus word list, mostly words the corpus lacks such as gibberish: ``drqa_ng.retrieval.content``)
is neither searched nor read: no answers, abstained, ``no_content``.

Everything is computed per question: a question's answers never depend on the rest of its batch.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from drqa_ng.confidence import CALIBRATION_FILE, Calibration, abstains, confidences, softmax
from drqa_ng.config import CONFIG, default_home, read_home_config
from drqa_ng.errors import DrqaError, InputError, UnsupportedError
from drqa_ng.normalize import normalize_answer
from drqa_ng.protocols import PassageStore, Reader, Retriever, StagedRead
from drqa_ng.ranking.answers import RankerWeights, rerank
from drqa_ng.request import (
    DEFAULT_K,
    DEFAULT_TOP_N,
    HARD_LIMITS,
    MAX_TOP_N,
    Limits,
    Request,
    check_count,
    check_request,
)
from drqa_ng.retrieval.articles import ArticleRanker, PassageSignals
from drqa_ng.retrieval.content import KnownWords, has_content
from drqa_ng.retrieval.scoring import min_max
from drqa_ng.stages import DEFAULT_DEPTH, StageClock, run_stages
from drqa_ng.types import Answer, Document, Hit, Passage, Support, Unit

log = logging.getLogger(__name__)

DEFAULT_EVIDENCE_WEIGHT = 12.0
"""``w`` of the order in which a question's read passages are returned (``evidence_order``): the
reader's best span score in the passage + w · the retriever's [0, 1] norm. Chosen on the tune halves
of the five question sets (``drqa_ng.evaluation.splits``, 150 questions each, quickstart home, k = 10,
the shipped reader; ``scripts/probe_reader_rerank.py``): mean top-5 paragraph recall of the first 10
passages 31.6 in the retriever's order, 33.2-33.6 for w in 4..16, best at 12 (33.6)."""

DEFAULT_ANSWER_WEIGHT = 1.0
"""Retriever weight used when none is given: tuned with ``drqa-ng eval --tune`` on 100 SQuAD part-A
TRAIN-article questions (BM25 paragraphs, k 5, shipped reader): EM 8.0 at w=0 → 10.0 at w=1.0.
Re-tune when the reader or index changes; never tune on the split you report."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """A passage handed to the reader: the retriever's raw score, its per-question [0, 1] norm and the
    0-based rank of the hit it came from (paragraphs of one retrieved doc share their doc's rank).
    ``signals``: what a document-aware retriever knew about it (None from other retrievers)."""

    passage: Passage
    score: float
    norm: float
    rank: int = 0
    signals: PassageSignals | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One retrieved unit as shown by ``search``: the retriever's ``hit`` (id, doc id, raw score), its
    1-based ``rank`` and its text from the doc store (``None`` when the store lacks it or none is open).
    A doc-unit hit's passage is the whole document."""

    hit: Hit
    rank: int
    passage: Passage | None


@dataclass(frozen=True, slots=True)
class ReaderChunk:
    """One reader call of a prepared batch: its first question's index in the batch, the indices
    (within the call) of the questions with evidence, and the reader's prepared input (``None`` when
    the reader is not a ``StagedRead`` or nothing is to be read)."""

    start: int
    todo: tuple[int, ...]
    prepared: object = None


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """``QAPipeline.prepare``'s output, ``finish``'s input: the checked questions, their evidence, the
    reader calls with their windows built, and when preparation began (wall and process CPU clock)."""

    questions: tuple[str, ...]
    evidence: tuple[tuple[Evidence, ...], ...]
    chunks: tuple[ReaderChunk, ...]
    started: float
    cpu_started: float
    no_content: frozenset[int] = frozenset()  # indices of questions left unread (no known content)


@dataclass(frozen=True, slots=True)
class QAResult:
    """One question's outcome: ranked answers, the evidence read, the batch's wall time per question and
    whether the pipeline abstains (no answer, or the best confidence is below its ``min_confidence``).
    ``cpu_seconds``: the process CPU time (all threads) of the batch per question, a load-robust cost.
    ``no_content``: the question carries no content the index knows, so nothing was read (abstained)."""

    question: str
    answers: tuple[Answer, ...]
    evidence: tuple[Evidence, ...]
    seconds: float
    abstained: bool = False
    cpu_seconds: float = 0.0
    no_content: bool = False


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """Where the pieces live and how they are combined; ``QAPipeline.from_settings`` loads them.

    Several ``indexes`` are fused with ``HybridRetriever`` (``fusion`` = "rrf" or "interp";
    ``fusion_weight``: the last index's share in interp; ``fusion_depth``: hits fetched from each).
    ``docs`` may be None only for ``QAPipeline.for_search``.
    ``min_confidence``: abstain below this confidence (``None``: the threshold stored with the reader's
    calibration, or never when the reader has none). ``calibrated=False`` ignores the calibration.
    """

    indexes: tuple[Path, ...]
    docs: Path | None
    reader: Path | None = None
    reader_backend: str = "auto"
    fusion: str = "rrf"
    fusion_weight: float | None = 0.5
    fusion_depth: int = 100
    k: int = DEFAULT_K
    answer_weight: float = DEFAULT_ANSWER_WEIGHT
    max_passages: int = 64
    reader_candidates: int = 20
    reader_batch_size: int = 8
    threads: int | None = None  # CPU threads for the reader (None: the runtimes' defaults)
    min_confidence: float | None = None
    calibrated: bool = True
    overlap: bool | None = None
    """Prepare the next batch (retrieve, tokenise) while the reader reads this one, where a stream of
    batches runs (``ask_stream``: eval, ``ask`` with several questions or ``-i``, the HTTP batcher).
    ``None`` = auto (``auto_overlap``): on only when the reader leaves a CPU core free."""
    extra: tuple[tuple[str, str], ...] = field(default=())
    evidence_weight: float | None = DEFAULT_EVIDENCE_WEIGHT
    """Order each question's evidence by what the reader found in it (``evidence_order``; the reader
    as a cross-encoder over the passages it reads anyway); None keeps the retriever's order."""
    articles: Path | None = None
    """A doc-unit sparse index of the same store: paragraphs are ranked with their article's score and
    title (``retrieval.articles``), and answers by the learned ranker stored beside the reader
    (``ranking.answers``, when there is one). None: paragraph retrieval alone, answers by score."""
    answer_ranking: bool = True
    """Use the reader's ``answer_ranker.json`` where the retriever gives article signals."""
    vocabulary: Path | None = None
    """The corpus word list (``retrieval.vocabulary``): questions mostly made of words it lacks are
    abstained on unread. None: only questions without any content word are."""
    home: Path | None = None
    """The data home the indexes were read from: when set, a change of its config.json (the
    background dense build finishing) switches retrieval without a restart (``retrieval.upgrade``)."""

    @classmethod
    def for_home(cls, home: Path) -> PipelineSettings:
        """What a data home built by ``quickstart`` holds (``<home>/config.json``): its indexes, doc
        store, reader, fusion, word list and article index, following its background upgrades."""
        cfg = read_home_config(home)
        return cls(
            indexes=tuple(cfg.indexes),
            docs=cfg.docs,
            reader=cfg.reader,
            fusion=cfg.fusion or "rrf",
            fusion_weight=cfg.fusion_weight_or_default,
            home=cfg.home,
            vocabulary=cfg.vocabulary,
            articles=cfg.articles,
            answer_weight=DEFAULT_ANSWER_WEIGHT if cfg.answer_weight is None else cfg.answer_weight,
        )


def auto_overlap(reader_threads: int | None, cpus: int | None = None) -> bool:
    """Whether overlapping stages pays on this machine: only when the reader's threads leave a core for
    the preparing thread. Measured on 2 shared cores (docs/performance.md): with the reader on both,
    overlap gave 0.87-0.94x the questions/s (the preparing thread stalls one of the reader's two
    threads, for at most the ~1 % of wall time preparation takes); with the reader on one, 1.07x.
    On a GPU reader pass ``overlap=True``."""
    n = cpus if cpus is not None else (os.cpu_count() or 1)
    return reader_threads is not None and reader_threads < n


def combine_score(reader_score: float, retriever_norm: float, weight: float) -> float:
    """Final answer score = reader_score + weight · retriever_norm (BERTserini-style interpolation)."""
    return float(reader_score) + float(weight) * float(retriever_norm)


def evidence_order(
    evidence: Sequence[Evidence], read: Sequence[Answer], weight: float
) -> tuple[Evidence, ...]:
    """The evidence ordered by how it reads: relevance(p) = max reader_score of p's spans in ``read``
    + weight · norm(p), best first; ties and passages with no span in ``read`` (empty, or the reader was
    not asked for every passage) keep the retriever's order, the latter after the rest.

    The reader is a cross-encoder that has just read every passage: its best span score says whether the
    passage answers, which the retriever's score, computed from the question alone, cannot (on the tune
    halves top-5 recall 31.6 → 33.6 at k = 10, ``DEFAULT_EVIDENCE_WEIGHT``).
    """
    best: dict[str, float] = {}
    for a in read:
        if a.reader_score > best.get(a.passage.id, -math.inf):
            best[a.passage.id] = a.reader_score

    def key(i: int) -> tuple[bool, float, int]:
        e = evidence[i]
        r = best.get(e.passage.id)
        return (r is None, 0.0 if r is None else -(r + weight * e.norm), i)

    return tuple(evidence[i] for i in sorted(range(len(evidence)), key=key))


_WORD = re.compile(r"\w+", re.UNICODE)


def _overlap(question_terms: set[str], text: str) -> int:
    return len(question_terms.intersection(w.lower() for w in _WORD.findall(text)))


def rank_answers(
    candidates: Sequence[Answer],
    weight: float,
    top_n: int,
    calibration: Calibration | None = None,
) -> list[Answer]:
    """Re-score with ``combine_score``, merge answers whose SQuAD-normalised text is equal, keep ``top_n``.

    A span overlapping a better one kept from the same passage ("Paris" vs "France is Paris") is
    dropped. The softmax of the combined scores over all remaining candidates is summed per merged
    answer (``span_prob``, DrQA-style aggregation, see ``drqa_ng.confidence``); each answer keeps its
    best-scoring span and evidence, records the merge in ``support`` and gets a ``confidence``
    (``calibration``'s, else ``span_prob``). Answers are ordered by confidence, then score, passage
    id and offset, so the order is deterministic.
    """
    scored = sorted(
        (
            replace(a, score=combine_score(a.reader_score, a.retriever_score, weight))
            for a in candidates
            if a.text.strip()
        ),
        key=lambda a: (-a.score, a.passage.id, a.start),
    )
    best: dict[str, Answer] = {}
    merged: dict[str, list[Answer]] = {}
    kept: dict[str, list[tuple[int, int]]] = {}  # passage id -> spans already answered there
    for a in scored:
        key = normalize_answer(a.text) or a.text.strip().lower()
        if key in best:
            merged[key].append(a)
            continue
        spans = kept.setdefault(a.passage.id, [])
        if any(a.start < end and start < a.end for start, end in spans):
            continue
        best[key] = a
        merged[key] = [a]
        spans.append((a.start, a.end))
    probs = softmax([a.score for group in merged.values() for a in group])
    answers: list[Answer] = []
    i = 0
    for key, a in best.items():
        group = merged[key]
        mass = float(probs[i : i + len(group)].sum())
        i += len(group)
        passages = tuple(dict.fromkeys(g.passage.id for g in group))
        answers.append(replace(a, span_prob=mass, support=Support(len(group), passages)))
    conf = confidences(answers, calibration)
    answers = [replace(a, confidence=c) for a, c in zip(answers, conf, strict=True)]
    answers.sort(key=lambda a: (-(a.confidence or 0.0), -a.score, a.passage.id, a.start))
    return answers[:top_n]


def lookup_hits(
    hits: Sequence[Sequence[Hit]], store: PassageStore | None, unit: str
) -> list[list[SearchHit]]:
    """Each query's hits with their rank and text (``store=None``: ids and scores only)."""
    out: list[list[SearchHit]] = []
    for hs in hits:
        passages: Sequence[Passage | None] = [None] * len(hs)
        if store is not None and unit == "doc":
            docs = store.get_documents([h.doc_id for h in hs])
            passages = [
                None if d is None else Passage(d.id, d.id, d.title, d.text, 0, len(d.text), "doc")
                for d in docs
            ]
        elif store is not None:
            passages = store.get_passages([h.id for h in hs])
        out.append([SearchHit(h, r, p) for r, (h, p) in enumerate(zip(hs, passages, strict=True), 1)])
    return out


class NoStore:
    """The doc store of a search-only pipeline whose index names none: every lookup is None (ids only)."""

    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]:
        return [None] * len(ids)

    def get_documents(self, ids: Sequence[str]) -> list[Document | None]:
        return [None] * len(ids)

    def get_units(self, doc_ids: Sequence[str], unit: Unit) -> list[list[Passage]]:
        return [[] for _ in doc_ids]


class NoReader:
    """The reader of a search-only pipeline (``QAPipeline.for_search``): reading is refused."""

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int = 1
    ) -> list[list[Answer]]:
        raise UnsupportedError("this pipeline has no reader (opened with QAPipeline.for_search)")


class QAPipeline:
    """Retriever + doc store + reader. Construction is cheap; ``from_settings`` does the heavy loading.

    One path: every public entry point checks its request once (``drqa_ng.request.check_request``
    against ``limits``) and hands the checked ``Request`` to ``answer`` (QA) or ``find`` (search),
    which the CLI and the HTTP routers call directly after their own check. A pipeline opened with
    ``for_search`` has no reader (and maybe no doc store): it can search, not answer.
    """

    def __init__(
        self,
        retriever: Retriever,
        store: PassageStore,
        reader: Reader,
        *,
        k: int = DEFAULT_K,
        answer_weight: float = DEFAULT_ANSWER_WEIGHT,
        max_passages: int = 64,
        reader_candidates: int = 20,
        reader_batch_size: int = 8,
        limits: Limits = HARD_LIMITS,
        calibration: Calibration | None = None,
        min_confidence: float | None = None,
        overlap: bool = False,
        known_words: KnownWords | None = None,
        answer_ranker: RankerWeights | None = None,
        evidence_weight: float | None = DEFAULT_EVIDENCE_WEIGHT,
    ) -> None:
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        if max_passages < 1 or reader_candidates < 1 or reader_batch_size < 1:
            raise InputError("max_passages, reader_candidates and reader_batch_size must be >= 1")
        self.retriever = retriever
        self.store = store
        self.reader = reader
        self.k = k
        self.answer_weight = answer_weight
        self.max_passages = max_passages
        self.reader_candidates = reader_candidates
        self.reader_batch_size = reader_batch_size
        self.limits = limits.within(HARD_LIMITS)
        self.calibration = calibration
        self.known_words = known_words
        self.answer_ranker = answer_ranker
        self.evidence_weight = evidence_weight
        if min_confidence is None and answer_ranker is not None and isinstance(retriever, ArticleRanker):
            min_confidence = answer_ranker.threshold
        if min_confidence is None:
            min_confidence = calibration.threshold if calibration is not None else 0.0
        if not 0.0 <= min_confidence <= 1.0:
            raise InputError(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.min_confidence = min_confidence
        self.overlap = overlap

    @property
    def max_question_chars(self) -> int:
        """The longest question this pipeline accepts (``limits.question_chars``)."""
        return self.limits.question_chars

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> QAPipeline:
        """Open the indexes (fused when several), the doc store and the reader named in ``settings``."""
        from drqa_ng.reading.reader import default_weights_dir, load_reader
        from drqa_ng.store.docstore import DocStore

        if settings.docs is None:
            raise InputError("no doc store given: pass --docs FILE (or run `drqa-ng quickstart` first)")
        retriever = open_retrievers(
            settings.indexes, settings.fusion, settings.fusion_weight, settings.fusion_depth
        )
        if settings.home is not None:
            retriever = _upgrading(retriever, settings.home)
        store = DocStore.open(settings.docs)
        answer_ranker = None
        if settings.articles is not None:
            from drqa_ng.retrieval.loader import open_retriever

            retriever = ArticleRanker(retriever, open_retriever(settings.articles), store)
            if settings.answer_ranking:
                answer_ranker = RankerWeights.load(settings.reader or default_weights_dir())
        reader = load_reader(settings.reader, backend=settings.reader_backend, threads=settings.threads)
        torch = sys.modules.get("torch")  # only a torch reader imports it; the ONNX path starts without it
        if settings.threads and torch is not None:
            torch.set_num_threads(settings.threads)  # process-wide; ONNX sessions get theirs from load_reader
        calibration = None
        if settings.calibrated:
            folder = settings.reader or default_weights_dir()
            calibration = Calibration.load(folder)
            if calibration is None:
                log.warning(
                    "%s has no %s (fit one: scripts/fit_calibration.sh): confidences are uncalibrated and "
                    "the pipeline never abstains",
                    folder,
                    CALIBRATION_FILE,
                )
        known_words = None
        if settings.vocabulary is not None:
            from drqa_ng.retrieval.vocabulary import Vocabulary

            known_words = Vocabulary.open(settings.vocabulary).known
        return cls(
            retriever,
            store,
            reader,
            known_words=known_words,
            answer_ranker=answer_ranker,
            k=settings.k,
            answer_weight=settings.answer_weight,
            max_passages=settings.max_passages,
            reader_candidates=settings.reader_candidates,
            reader_batch_size=settings.reader_batch_size,
            calibration=calibration,
            min_confidence=settings.min_confidence,
            overlap=auto_overlap(settings.threads) if settings.overlap is None else settings.overlap,
            evidence_weight=settings.evidence_weight,
        )

    @classmethod
    def from_home(cls, home: Path | None = None, **options: Any) -> QAPipeline:
        """The pipeline ``drqa-ng ask`` opens on a data home built by ``quickstart`` (``home``, else
        ``$DRQA_NG_HOME``, else the per-user default): its indexes, doc store, reader, fusion, word list
        and article index, following its background upgrades. ``options`` are further
        ``PipelineSettings`` fields (``k=5``, ``min_confidence=0.2``, ...)."""
        settings = PipelineSettings.for_home(home or default_home())
        return cls.from_settings(replace(settings, **options))

    @classmethod
    def for_search(cls, settings: PipelineSettings) -> QAPipeline:
        """Retrieval only, no reader: the indexes and the doc store that shows the hits' text.

        ``settings.docs`` is opened when given (its errors are raised); else the doc store the first
        index records is tried, and a hit list without text (ids and scores) is the fallback when it
        names none or cannot be opened.
        """
        from drqa_ng.indexes import index_docs
        from drqa_ng.store.docstore import DocStore

        retriever = open_retrievers(
            settings.indexes, settings.fusion, settings.fusion_weight, settings.fusion_depth
        )
        store: PassageStore = NoStore()
        if settings.docs is not None:
            store = DocStore.open(settings.docs)
        else:
            recorded = index_docs(settings.indexes[0])
            if recorded is not None:
                try:
                    store = DocStore.open(recorded)
                except (ImportError, DrqaError) as e:
                    log.warning("doc store %s unavailable (%s); showing ids only", recorded, e)
        if settings.articles is not None and isinstance(store, DocStore):
            from drqa_ng.retrieval.loader import open_retriever

            retriever = ArticleRanker(retriever, open_retriever(settings.articles), store)
        return cls(retriever, store, NoReader(), k=settings.k)

    @classmethod
    def from_paths(
        cls,
        indexes: Path | Sequence[Path],
        docs: Path,
        reader: Path | None = None,
        **options: Any,
    ) -> QAPipeline:
        """Shorthand for ``from_settings(PipelineSettings(indexes, docs, reader, **options))``."""
        paths = (Path(indexes),) if isinstance(indexes, str | Path) else tuple(Path(p) for p in indexes)
        return cls.from_settings(PipelineSettings(paths, Path(docs), reader, **options))

    def check(
        self, questions: Sequence[str], top_n: int | None = DEFAULT_TOP_N, k: int | None = None
    ) -> Request:
        """The request checked against this pipeline's ``limits`` (``drqa_ng.request.check_request``)."""
        return check_request(questions, k=k, top_n=top_n, limits=self.limits)

    # -- stages -------------------------------------------------------------------------------------

    def find(self, request: Request, *, keep_missing: bool = False) -> list[list[SearchHit]]:
        """The one search path: top ``request.k`` (default: the pipeline's ``k``) units per checked question, each
        with its rank and text. Hits the doc store lacks are dropped, unless ``keep_missing`` (then their
        ``passage`` is None, as is every hit's when the pipeline has no doc store: ``NoStore``)."""
        k = self.k if request.k is None else request.k
        found = lookup_hits(self.retriever.search(request.questions, k), self.store, self.retriever.unit)
        return found if keep_missing else [[h for h in hs if h.passage is not None] for hs in found]

    def search(self, questions: Sequence[str], k: int | None = None) -> list[list[SearchHit]]:
        """Top-``k`` (default: the pipeline's ``k``) retrieved units per question with their text, no reader.

        Hits the doc store lacks are dropped; a doc-unit hit carries the whole document.
        """
        return self.find(self.check(questions, top_n=None, k=k))

    def retrieve(self, questions: Sequence[str], k: int | None = None) -> list[list[Evidence]]:
        """Top-``k`` (default: the pipeline's ``k``) units per question as passages; doc hits become paragraphs."""
        return self._retrieve(self.check(questions, top_n=None, k=k))

    def _retrieve(self, request: Request) -> list[list[Evidence]]:
        k = self.k if request.k is None else request.k
        if isinstance(self.retriever, ArticleRanker):
            found = self.retriever.signals(request.questions, k)
            return [
                self._evidence(q, [s.hit for s in sig], [s.signals for s in sig])
                for q, sig in zip(request.questions, found, strict=True)
            ]
        hits = self.retriever.search(request.questions, k)
        return [self._evidence(q, h) for q, h in zip(request.questions, hits, strict=True)]

    def _evidence(
        self, question: str, hits: Sequence[Hit], signals: Sequence[PassageSignals] | None = None
    ) -> list[Evidence]:
        if not hits:
            return []
        norms = min_max([h.score for h in hits])
        store = self.store
        if self.retriever.unit == "doc":
            # DrQA reads whole articles paragraph by paragraph; the store's paragraph ids are reused.
            paragraphs = store.get_units([h.doc_id for h in hits], "paragraph")
            ev: list[Evidence] = []
            for r, (h, n, ps) in enumerate(zip(hits, norms, paragraphs, strict=True)):
                if not ps:
                    log.warning("retrieved doc %s has no paragraphs in the doc store", h.doc_id)
                ev.extend(Evidence(p, h.score, float(n), r) for p in ps)
            return self._cap(question, ev)
        passages = store.get_passages([h.id for h in hits])
        sigs: Sequence[PassageSignals | None] = signals if signals is not None else [None] * len(hits)
        ev = []
        for r, (h, n, p, s) in enumerate(zip(hits, norms, passages, sigs, strict=True)):
            if p is None:
                log.warning("retrieved unit %s is missing from the doc store", h.id)
                continue
            ev.append(Evidence(p, h.score, float(n), r, s))
        return self._cap(question, ev)

    def _cap(self, question: str, ev: list[Evidence]) -> list[Evidence]:
        """Bound reader work: past ``max_passages``, keep the passages sharing most words with the question.

        A cheap lexical pre-filter (DrQA reads every paragraph; on CPU that is too slow for long docs).
        """
        if len(ev) <= self.max_passages:
            return ev
        terms = {w.lower() for w in _WORD.findall(question)}
        order = sorted(range(len(ev)), key=lambda i: (-_overlap(terms, ev[i].passage.text), -ev[i].score, i))
        keep = sorted(order[: self.max_passages])
        return [ev[i] for i in keep]

    def read(
        self, questions: Sequence[str], evidence: Sequence[Sequence[Evidence]], top_n: int
    ) -> list[list[Answer]]:
        """Run the reader over each question's evidence in batches and rank its candidates."""
        return self._read_chunks(questions, evidence, self._prepare_chunks(questions, evidence), top_n)[0]

    def _prepare_chunks(
        self, questions: Sequence[str], evidence: Sequence[Sequence[Evidence]]
    ) -> list[ReaderChunk]:
        """Cut the batch into reader calls of ``reader_batch_size`` questions; a ``StagedRead``
        tokenises each call's input here (the CPU half), any other reader does all its work later."""
        chunks: list[ReaderChunk] = []
        for lo in range(0, len(questions), self.reader_batch_size):
            evs = evidence[lo : lo + self.reader_batch_size]
            todo = tuple(i for i, e in enumerate(evs) if e)
            prep: object = None
            if todo and isinstance(self.reader, StagedRead):
                prep = self.reader.prepare(
                    [questions[lo + i] for i in todo], [[e.passage for e in evs[i]] for i in todo]
                )
            chunks.append(ReaderChunk(lo, todo, prep))
        return chunks

    def _read_chunks(
        self,
        questions: Sequence[str],
        evidence: Sequence[Sequence[Evidence]],
        chunks: Sequence[ReaderChunk],
        top_n: int,
    ) -> tuple[list[list[Answer]], list[tuple[Evidence, ...]]]:
        """Each question's ranked answers, and its evidence in ``evidence_order`` (the retriever's order
        where the reader cannot say how each passage reads, or ``evidence_weight`` is None)."""
        results: list[list[Answer]] = []
        ordered: list[tuple[Evidence, ...]] = []
        n = max(top_n, self.reader_candidates)
        weight = self.evidence_weight
        for chunk in chunks:
            lo = chunk.start
            evs = evidence[lo : lo + self.reader_batch_size]
            raw: dict[int, list[Answer]] = {}
            if chunk.todo:
                if chunk.prepared is not None and isinstance(self.reader, StagedRead):
                    out = self.reader.read_prepared(chunk.prepared, top_n=n, every_passage=weight is not None)
                else:
                    out = self.reader.read(
                        [questions[lo + i] for i in chunk.todo],
                        [[e.passage for e in evs[i]] for i in chunk.todo],
                        top_n=n,
                    )
                raw = dict(zip(chunk.todo, out, strict=True))
            for i, ev in enumerate(evs):
                by_id = {e.passage.id: e for e in ev}
                read = raw.get(i, [])
                if weight is not None and chunk.prepared is not None:
                    ordered.append(evidence_order(ev, read, weight))
                else:
                    ordered.append(tuple(ev))
                cands = []
                for a in read[:n]:
                    e = by_id.get(a.passage.id)
                    if e is None:
                        cands.append(replace(a, retriever_score=0.0))
                    else:
                        cands.append(
                            replace(
                                a, retriever_score=e.norm, retriever_raw=e.score, retriever_rank=e.rank + 1
                            )
                        )
                signals = {e.passage.id: e.signals for e in ev if e.signals is not None}
                if self.answer_ranker is not None and ev and len(signals) == len(by_id):
                    merged = rank_answers(cands, self.answer_weight, MAX_TOP_N, self.calibration)
                    results.append(rerank(questions[lo + i], merged, signals, self.answer_ranker)[:top_n])
                else:
                    results.append(rank_answers(cands, self.answer_weight, top_n, self.calibration))
        return results, ordered

    # -- public entry points -------------------------------------------------------------------------

    def prepare(self, request: Request) -> PreparedBatch:
        """The CPU stage of ``answer``: retrieve, fetch passages, tokenise, build windows. A question
        with no content the index knows (``retrieval.content``) is neither searched nor read."""
        if isinstance(self.reader, NoReader):
            self.reader.read([], [])  # refuses before any retrieval
        t0, c0 = time.perf_counter(), time.process_time()
        qs = request.questions
        content = [i for i, q in enumerate(qs) if has_content(q, self.known_words)]
        evidence: list[list[Evidence]] = [[] for _ in qs]
        if content:
            subset = replace(request, questions=tuple(qs[i] for i in content))
            for i, ev in zip(content, self._retrieve(subset), strict=True):
                evidence[i] = ev
        chunks = self._prepare_chunks(qs, evidence)
        unread = frozenset(range(len(qs))).difference(content)
        return PreparedBatch(qs, tuple(tuple(e) for e in evidence), tuple(chunks), t0, c0, unread)

    def finish(self, batch: PreparedBatch, top_n: int = DEFAULT_TOP_N) -> list[QAResult]:
        """The model stage of ``answer``: read ``batch``'s windows and rank the answers.

        ``seconds`` (and ``cpu_seconds``) per question run from the start of ``prepare`` to here, so
        in an overlapped run they include the wait in the queue (and the CPU of work overlapping it).
        """
        check_count(top_n, self.limits.top_n, "top_n")
        qs = batch.questions
        answers, evidence = self._read_chunks(qs, batch.evidence, batch.chunks, top_n)
        per_q = (time.perf_counter() - batch.started) / max(len(qs), 1)
        cpu_q = (time.process_time() - batch.cpu_started) / max(len(qs), 1)
        return [
            QAResult(q, tuple(a), e, per_q, self.abstains(a), cpu_q, no_content=i in batch.no_content)
            for i, (q, a, e) in enumerate(zip(qs, answers, evidence, strict=True))
        ]

    def answer(self, request: Request) -> list[QAResult]:
        """The one QA path: answers plus the evidence read for each checked question;
        ``seconds`` = batch wall time / batch size."""
        return self.finish(self.prepare(request), request.top_n)

    def ask_stream(
        self,
        batches: Iterable[Sequence[str]],
        top_n: int = DEFAULT_TOP_N,
        k: int | None = None,
        *,
        overlap: bool | None = None,
        depth: int = DEFAULT_DEPTH,
        clock: StageClock | None = None,
    ) -> Iterator[list[QAResult]]:
        """``ask_detailed`` over a stream of batches, in order. With ``overlap`` (default: the
        pipeline's ``overlap``) batch i+1 is prepared in a thread while the reader reads batch i, at
        most ``depth`` prepared batches waiting (``drqa_ng.stages``); the answers are the same either
        way. A bad batch raises its ``InputError`` at its position in the stream."""
        check_count(top_n, self.limits.top_n, "top_n")
        return run_stages(
            batches,
            lambda qs: self.prepare(self.check(qs, top_n, k)),
            lambda b: self.finish(b, top_n),
            overlap=self.overlap if overlap is None else overlap,
            depth=depth,
            clock=clock,
        )

    def ask_detailed(
        self, questions: Sequence[str], top_n: int = DEFAULT_TOP_N, k: int | None = None
    ) -> list[QAResult]:
        """``answer`` after checking the request: ``k`` retrieved units per question (default
        the pipeline's ``k``), ``top_n`` answers kept per question."""
        return self.answer(self.check(questions, top_n, k))

    def abstains(self, answers: Sequence[Answer]) -> bool:
        """Whether this pipeline says "no confident answer" for a question's ranked ``answers``."""
        return abstains(answers, self.min_confidence)

    def ask(
        self, questions: Sequence[str], top_n: int = DEFAULT_TOP_N, k: int | None = None
    ) -> list[list[Answer]]:
        """Batch QA, answers only: one ranked, deduplicated answer list (at most ``top_n``) per question
        (``ask_detailed`` keeps the evidence and the abstention)."""
        return [list(r.answers) for r in self.ask_detailed(questions, top_n, k)]

    def ask_one(self, question: str, top_n: int = DEFAULT_TOP_N, k: int | None = None) -> list[Answer]:
        """Single-question convenience wrapper over ``ask``."""
        return self.ask([question], top_n, k)[0]


def _upgrading(retriever: Retriever, home: Path) -> Retriever:
    from drqa_ng.retrieval.upgrade import UpgradingRetriever

    def reopen() -> Retriever:
        cfg = read_home_config(home)
        return open_retrievers(cfg.indexes, cfg.fusion, cfg.fusion_weight_or_default)

    return UpgradingRetriever(retriever, Path(home) / CONFIG, reopen)


def open_retrievers(
    paths: Sequence[Path], fusion: str = "rrf", weight: float | None = 0.5, depth: int = 100
) -> Retriever:
    """Open each index folder (kind read from its manifest); several are fused into one hybrid retriever
    (``weight``: the last index's share in ``interp`` fusion, None: equal shares; ``depth``: hits
    fetched from each before fusing)."""
    from drqa_ng.indexes import open_retriever

    if not paths:
        raise InputError("no index given: pass --index DIR (or run `drqa-ng quickstart` first)")
    retrievers: list[Retriever] = [open_retriever(Path(p)) for p in paths]
    if len(retrievers) == 1:
        return retrievers[0]
    from drqa_ng.retrieval.fusion import FUSION_METHODS, FusionMethod, HybridRetriever

    if fusion not in FUSION_METHODS:
        raise InputError(f"unknown fusion {fusion!r}; choose from {', '.join(FUSION_METHODS)}")
    hybrid: Retriever = HybridRetriever(
        retrievers, method=cast(FusionMethod, fusion), weight=weight, depth=depth
    )
    return hybrid
