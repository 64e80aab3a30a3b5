from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pytest

from drqa_ng.errors import InputError
from drqa_ng.normalize import normalize_answer
from drqa_ng.pipeline import (
    DEFAULT_EVIDENCE_WEIGHT,
    Evidence,
    QAPipeline,
    evidence_order,
    rank_answers,
)
from drqa_ng.protocols import StagedRead
from drqa_ng.request import check_request
from drqa_ng.types import Answer, Document, Passage
from tests.serving.fakes import FakeReader, FakeRetriever, FakeStore, fake_pipeline, split_paragraphs
from tests.serving.fakes import words as fake_words

QUESTIONS = [
    "What is the capital of Germany?",
    "Who built the Eiffel Tower?",
    "What is the capital of Italy?",
    "Which city is the capital of Spain?",
    "xyzzy nothing matches",
]


def test_ask_ranks_best_passage_answer_first_with_evidence() -> None:
    pipe = fake_pipeline(k=3)
    (answers,) = pipe.ask(["What is the capital of Germany?"], top_n=3)
    assert answers[0].text == "Berlin"
    a = answers[0]
    assert a.passage.doc_id == "2" and a.passage.title == "Berlin" and a.passage.id == "2#p0"
    assert a.passage.text[a.start : a.end] == a.text
    confs = [x.confidence for x in answers]
    assert all(c is not None and 0.0 <= c <= 1.0 for c in confs)
    assert confs == sorted(confs, reverse=True)  # type: ignore[type-var]
    assert len(answers) <= 3


def test_answers_do_not_depend_on_batch() -> None:
    pipe = fake_pipeline(k=4, reader_batch_size=2, answer_weight=0.7)
    together = pipe.ask(QUESTIONS, top_n=4)
    alone = [pipe.ask([q], top_n=4)[0] for q in QUESTIONS]
    assert together == alone
    assert together[-1] == []  # no hit, no answer
    assert set(pipe.reader.batches) <= {1, 2}  # type: ignore[attr-defined]


def test_answers_are_deduplicated_by_normalised_text() -> None:
    pipe = fake_pipeline(k=10, answer_weight=0.0)
    (answers,) = pipe.ask(["which capital"], top_n=10)
    keys = [normalize_answer(a.text) for a in answers]
    assert len(keys) == len(set(keys))
    support = {a.text: a.support for a in answers}
    france = support["France"]
    assert france is not None and france.count >= 2  # proposed by the Paris paragraph and the Madrid doc
    assert {"1#p0", "4#p0"} <= set(france.passage_ids)


def test_weight_changes_ranking() -> None:
    p1 = Passage("a#p0", "a", "A", "Alpha text", 0, 10)
    p2 = Passage("b#p0", "b", "B", "Beta text", 0, 9)
    x = Answer("Alpha", 0.0, p1, 0, 5, reader_score=1.0, retriever_score=0.0)
    y = Answer("Beta", 0.0, p2, 0, 4, reader_score=0.8, retriever_score=1.0)
    assert [a.text for a in rank_answers([x, y], 0.0, 2)] == ["Alpha", "Beta"]
    ranked = rank_answers([x, y], 0.5, 2)
    assert [a.text for a in ranked] == ["Beta", "Alpha"]
    assert ranked[0].score == pytest.approx(1.3)


def test_overlapping_spans_of_one_passage_give_one_answer() -> None:
    text = "The capital of France is Paris."
    p1 = Passage("f#p0", "f", "France", text, 0, len(text))
    p2 = Passage("g#p0", "g", "Gaul", text, 0, len(text))
    paris = Answer("Paris", 0.0, p1, 25, 30, reader_score=2.0, retriever_score=0.0)
    longer = Answer("France is Paris", 0.0, p1, 15, 30, reader_score=1.5, retriever_score=0.0)
    apart = Answer("The capital", 0.0, p1, 0, 11, reader_score=1.0, retriever_score=0.0)
    other = Answer("France is Paris", 0.0, p2, 15, 30, reader_score=0.5, retriever_score=0.0)
    ranked = rank_answers([paris, longer, apart, other], 0.0, 5)
    # the overlapping span is dropped in f#p0, but the same text from another passage still counts
    assert [(a.text, a.passage.id) for a in ranked] == [
        ("Paris", "f#p0"),
        ("The capital", "f#p0"),
        ("France is Paris", "g#p0"),
    ]


def test_retriever_score_is_normalised_per_question() -> None:
    pipe = fake_pipeline(k=5, answer_weight=1.0)
    res = pipe.ask_detailed(["What is the capital of Germany?"], top_n=5)[0]
    norms = [e.norm for e in res.evidence]
    assert max(norms) == 1.0 and min(norms) == 0.0
    for a in res.answers:
        assert a.score == pytest.approx(a.reader_score + a.retriever_score)
        assert 0.0 <= a.retriever_score <= 1.0


def test_doc_unit_hits_are_split_into_paragraphs() -> None:
    store = FakeStore()
    pipe = QAPipeline(FakeRetriever(store, unit="doc"), store, FakeReader(), k=2)
    (ev,) = pipe.retrieve(["Who built the Colosseum in Rome?"])
    assert [e.passage.id for e in ev][:2] == ["3#p0", "3#p1"]
    doc = store.docs["3"]
    for e in ev:
        assert (
            doc.text[e.passage.start : e.passage.end] == e.passage.text if e.passage.doc_id == "3" else True
        )
    (answers,) = pipe.ask(["Who built the Colosseum in Rome?"], top_n=2)
    assert answers and answers[0].passage.id.startswith("3#p")


def test_search_returns_ranked_hits_with_text_and_k_overrides_the_default_k() -> None:
    pipe = fake_pipeline(k=2)
    (hits,) = pipe.search(["capital of Germany"])
    assert [h.rank for h in hits] == [1, 2] and hits[0].hit.id == "2#p0"
    assert hits[0].passage is not None and "Germany" in hits[0].passage.text
    (hits,) = pipe.search(["capital of Germany"], k=4)
    assert len(hits) == 4
    (ev,) = pipe.retrieve(["capital of Germany"], k=1)
    assert len(ev) == 1
    (one,) = pipe.ask_detailed(["What is the capital of Germany?"], top_n=5, k=1)
    assert {e.passage.id for e in one.evidence} == {"2#p0"}
    with pytest.raises(InputError):
        pipe.search(["capital"], k=0)


def test_search_doc_unit_carries_whole_documents_and_drops_missing() -> None:
    store = FakeStore()
    pipe = QAPipeline(FakeRetriever(store, unit="doc"), store, FakeReader(), k=2)
    (hits,) = pipe.search(["Colosseum Rome"])
    assert hits[0].passage is not None and hits[0].passage.text == store.docs["3"].text
    del store.docs["3"]
    (hits,) = pipe.search(["Colosseum Rome"])
    assert all(h.hit.doc_id != "3" for h in hits)


def test_max_passages_keeps_most_overlapping() -> None:
    store = FakeStore()
    pipe = QAPipeline(FakeRetriever(store, unit="doc"), store, FakeReader(), k=4, max_passages=2)
    (ev,) = pipe.retrieve(["capital of Italy Colosseum Vespasian"])
    assert len(ev) == 2
    assert {e.passage.id for e in ev} == {"3#p0", "3#p1"}


def test_missing_store_entries_are_skipped() -> None:
    store = FakeStore()
    retriever = FakeRetriever(store)
    del store.passages["2#p0"]
    pipe = QAPipeline(retriever, store, FakeReader(), k=3)
    (answers,) = pipe.ask(["What is the capital of Germany?"])
    assert all(a.passage.id != "2#p0" for a in answers)


@pytest.mark.parametrize("bad", [[""], ["   "], ["x" * 1001], "a string"])
def test_bad_questions_raise_input_error(bad: object) -> None:
    pipe = fake_pipeline()
    with pytest.raises(InputError):
        pipe.ask(bad)  # type: ignore[arg-type]


def test_bad_parameters_raise_input_error() -> None:
    with pytest.raises(InputError):
        fake_pipeline(k=0)
    with pytest.raises(InputError):
        fake_pipeline().ask(["q"], top_n=0)


def test_fake_store_paragraphs_have_exact_offsets() -> None:
    doc = Document("d", "T", "First para.\n\n\n  Second one\nstill second.\n\nThird.  \n")
    ps = split_paragraphs(doc)
    assert [p.id for p in ps] == ["d#p0", "d#p1", "d#p2"]
    assert [p.text for p in ps] == ["First para.", "Second one\nstill second.", "Third."]
    for p in ps:
        assert doc.text[p.start : p.end] == p.text


# -- with the real doc store, BM25 index and reader ----------------------------------------------------


@pytest.fixture(scope="module")
def real_pipeline(tiny_sparse_index, tiny_docstore, tiny_model_dir):  # type: ignore[no-untyped-def]
    from drqa_ng.pipeline import PipelineSettings

    settings = PipelineSettings(indexes=(tiny_sparse_index,), docs=tiny_docstore, reader=tiny_model_dir, k=3)
    return QAPipeline.from_settings(settings)


def test_real_pieces_answers_come_from_retrieved_paragraphs(real_pipeline) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.corpus import TINY_FACTS

    questions = [q for q, _, _ in TINY_FACTS]
    results = real_pipeline.ask_detailed(questions, top_n=3)
    for (_, _, unit), res in zip(TINY_FACTS, results, strict=True):
        assert unit in {e.passage.id for e in res.evidence}  # BM25 finds the fact's paragraph
        assert res.answers
        for a in res.answers:
            assert a.passage.text[a.start : a.end] == a.text
            assert a.passage.id in {e.passage.id for e in res.evidence}


def test_real_reader_answers_do_not_depend_on_batch(real_pipeline) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.corpus import TINY_FACTS

    questions = [q for q, _, _ in TINY_FACTS[:5]]
    together = real_pipeline.ask(questions, top_n=3)
    alone = [real_pipeline.ask([q], top_n=3)[0] for q in questions]
    for t, a in zip(together, alone, strict=True):
        assert [x.text for x in t] == [x.text for x in a]
        assert [x.score for x in t] == pytest.approx([x.score for x in a], abs=1e-4)


def test_doc_unit_index_reads_store_paragraphs(tiny_docstore, tiny_model_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from indexing.sparse import build_sparse_from_store

    out = tmp_path / "doc_index"
    build_sparse_from_store(tiny_docstore, out, unit="doc", buckets=2**18, show_progress=False)
    pipe = QAPipeline.from_paths([out], tiny_docstore, tiny_model_dir, k=1)
    (ev,) = pipe.retrieve(["When was the Eiffel Tower completed?"])
    assert [e.passage.id for e in ev] == ["eiffel_tower#p0", "eiffel_tower#p1", "eiffel_tower#p2"]
    assert all(e.rank == 0 for e in ev)


def test_shipped_reader_answers_tiny_facts(tiny_sparse_index, tiny_docstore) -> None:  # type: ignore[no-untyped-def]
    from drqa_ng.reading.reader import default_weights_dir
    from tests.fixtures.corpus import TINY_FACTS

    if not (default_weights_dir() / "manifest.json").is_file():
        pytest.skip("shipped reader weights not present yet (drqa_ng/reading/weights)")
    pipe = QAPipeline.from_paths(tiny_sparse_index, tiny_docstore, k=3)
    answers = pipe.ask([q for q, _, _ in TINY_FACTS], top_n=1)
    right = sum(
        bool(a) and normalize_answer(a[0].text) == normalize_answer(gold)
        for (_, gold, _), a in zip(TINY_FACTS, answers, strict=True)
    )
    assert right >= 6, [a[0].text if a else None for a in answers]
    # the shipped calibration is loaded with the reader: confidences, its threshold, abstention on nonsense
    assert pipe.calibration is not None and pipe.min_confidence == pipe.calibration.threshold > 0
    assert all(0.0 <= (a[0].confidence or -1.0) <= 1.0 for a in answers if a)
    assert pipe.ask_detailed(["xqzv blorf wibble?"])[0].abstained


def _cand(text: str, pid: str, reader: float, start: int = 0) -> Answer:
    p = Passage(pid, pid.split("#")[0], pid, text + " filler words", 0, len(text) + 13)
    return Answer(text, 0.0, p, start, start + len(text), reader_score=reader, retriever_score=0.0)


def test_merged_answers_sum_their_softmax_mass_and_outrank_a_lone_better_span() -> None:
    # two passages say "Lyon" (logits 1.0, 1.0), one says "Paris" (logit 1.5): alone Paris has the best
    # span, but the aggregated mass of Lyon, 2e / (2e + e^1.5) = 0.55, is above Paris's 0.45
    cands = [_cand("Paris", "a#p0", 1.5), _cand("Lyon", "b#p0", 1.0), _cand("Lyon", "c#p0", 1.0)]
    ranked = rank_answers(cands, 0.0, 5)
    assert [a.text for a in ranked] == ["Lyon", "Paris"]
    z = 2 * np.exp(1.0) + np.exp(1.5)
    assert ranked[0].span_prob == pytest.approx(2 * np.exp(1.0) / z)
    assert ranked[1].span_prob == pytest.approx(np.exp(1.5) / z)
    assert ranked[0].support is not None and ranked[0].support.count == 2
    assert ranked[0].support.passage_ids == ("b#p0", "c#p0")
    assert ranked[0].confidence == pytest.approx(ranked[0].span_prob)  # no calibration: the raw mass
    assert ranked[0].score == pytest.approx(1.0)  # the raw score of its best span stays available


def test_calibration_sets_confidence_and_pipeline_abstains_below_threshold() -> None:
    from drqa_ng.confidence import FEATURES, Calibration

    # a calibration that ignores every feature: confidence = sigmoid(intercept) = 0.2 for every answer
    cal = Calibration(
        FEATURES, (0.0,) * 6, (1.0,) * 6, (0.0,) * 6, intercept=float(np.log(0.25)), threshold=0.5
    )
    ranked = rank_answers([_cand("Paris", "a#p0", 3.0)], 0.0, 1, cal)
    assert ranked[0].confidence == pytest.approx(0.2)
    store = FakeStore()
    pipe = QAPipeline(FakeRetriever(store), store, FakeReader(), calibration=cal)
    assert pipe.min_confidence == 0.5
    (res,) = pipe.ask_detailed(["What is the capital of Germany?"])
    assert res.abstained and res.answers  # the answers are kept, flagged
    keen = QAPipeline(FakeRetriever(store), store, FakeReader(), calibration=cal, min_confidence=0.1)
    assert not keen.ask_detailed(["What is the capital of Germany?"])[0].abstained


def test_pipeline_fills_typed_retriever_fields() -> None:
    pipe = fake_pipeline(k=4)
    (res,) = pipe.ask_detailed(["What is the capital of Germany?"], top_n=4)
    ev = {e.passage.id: e for e in res.evidence}
    for a in res.answers:
        e = ev[a.passage.id]
        assert a.retriever_raw == e.score and a.retriever_rank == e.rank + 1
        assert a.extra == ()


def test_overlapped_stream_gives_the_sequential_answers() -> None:
    pipe = fake_pipeline(k=4, reader_batch_size=2, answer_weight=0.7)
    batches = [QUESTIONS[:2], QUESTIONS[2:3], QUESTIONS[3:]]
    seq = [[r.answers for r in rs] for rs in pipe.ask_stream(batches, top_n=4, overlap=False)]
    ovl = [[r.answers for r in rs] for rs in pipe.ask_stream(batches, top_n=4, overlap=True)]
    assert seq == ovl == [[tuple(a) for a in pipe.ask(b, top_n=4)] for b in batches]


def test_stream_raises_a_bad_batch_at_its_place() -> None:
    pipe = fake_pipeline(k=2)
    got = []
    with pytest.raises(InputError, match="empty"):
        for rs in pipe.ask_stream([[QUESTIONS[0]], ["  "], [QUESTIONS[1]]], top_n=2):
            got.append(rs)
    assert len(got) == 1


def test_real_reader_prepares_windows_before_reading(real_pipeline) -> None:  # type: ignore[no-untyped-def]
    from drqa_ng.reading.reader import PreparedRead
    from tests.fixtures.corpus import TINY_FACTS

    questions = [q for q, _, _ in TINY_FACTS]
    batch = real_pipeline.prepare(real_pipeline.check(questions[:3]))
    assert batch.chunks and all(isinstance(c.prepared, PreparedRead) for c in batch.chunks)
    assert all(c.prepared.windows is not None for c in batch.chunks)
    # a stream overlapped, a stream sequential and one plain call: the same answers and scores
    batches = [questions[lo : lo + 3] for lo in range(0, len(questions), 3)]
    ovl = [r for rs in real_pipeline.ask_stream(batches, top_n=3, overlap=True) for r in rs]
    seq = [r for rs in real_pipeline.ask_stream(batches, top_n=3, overlap=False) for r in rs]
    plain = real_pipeline.ask_detailed(questions, top_n=3)
    assert [r.answers for r in ovl] == [r.answers for r in seq] == [r.answers for r in plain]
    assert [r.evidence for r in ovl] == [r.evidence for r in plain]


def _known_words(words: Sequence[str]) -> list[bool]:
    corpus = set().union(*(fake_words(d.text) for d in FakeStore().docs.values()))
    return [w in corpus for w in words]


@pytest.mark.parametrize(
    "question", ["asdf qwer zxcv?", "\u200b\u200b", "\x01\x02", "Berlin qwer zxcv asdf?"]
)
def test_questions_without_known_content_are_abstained_unsearched_unread(question: str) -> None:
    pipe = fake_pipeline(k=3, known_words=_known_words)
    (r,) = pipe.ask_detailed([question])
    assert r.no_content and r.abstained
    assert r.answers == () and r.evidence == ()
    assert pipe.reader.batches == [] and pipe.retriever.calls == []


def test_questions_with_content_are_read_beside_those_without() -> None:
    pipe = fake_pipeline(k=3, known_words=_known_words)
    a, b, c = pipe.ask_detailed(["What is the capital of Germany?", "zxcv qwer?", "\u200b"])
    assert not a.no_content and a.answers and a.evidence
    assert b.no_content and c.no_content and not b.answers
    assert pipe.retriever.calls == [["What is the capital of Germany?"]]


def test_without_a_word_list_only_questions_without_words_are_unread() -> None:
    pipe = fake_pipeline(k=3)
    gibberish, invisible = pipe.ask_detailed(["asdf qwer zxcv?", "\u200b\x01"])
    assert not gibberish.no_content and invisible.no_content


def test_article_ranker_gives_evidence_signals_and_reads_the_named_article_first() -> None:
    from drqa_ng.retrieval.articles import ArticleRanker

    store = FakeStore()
    retriever = ArticleRanker(FakeRetriever(store), FakeRetriever(store, "doc"), store)
    pipe = QAPipeline(retriever, store, FakeReader(), k=3)  # type: ignore[arg-type]
    (r,) = pipe.ask_detailed(["What is the capital of Germany?"], top_n=3)
    assert r.evidence and all(e.signals is not None for e in r.evidence)
    assert r.evidence[0].passage.doc_id == "2"  # the article named by the question comes first
    assert r.answers[0].text == "Berlin"


def test_article_ranker_gives_evidence_signals_and_the_answer_ranker_orders_answers() -> None:
    from drqa_ng.ranking.answers import FEATURES, RankerWeights
    from drqa_ng.retrieval.articles import ArticleRanker

    store = FakeStore()
    retriever = ArticleRanker(FakeRetriever(store), FakeRetriever(store, "doc"), store)
    n = len(FEATURES)
    coef = tuple(-1.0 if f == "reader" else 0.0 for f in FEATURES)  # prefers the reader's LEAST liked span
    ranker = RankerWeights(FEATURES, (0.0,) * n, (1.0,) * n, coef, 0.0, 1.0, 0.0, 0.0)
    q = "What is the capital of Germany?"
    plain = QAPipeline(retriever, store, FakeReader(), k=3)  # type: ignore[arg-type]
    ranked = QAPipeline(retriever, store, FakeReader(), k=3, answer_ranker=ranker)  # type: ignore[arg-type]
    (r,) = ranked.ask_detailed([q], top_n=3)
    assert r.evidence and all(e.signals is not None for e in r.evidence)
    assert r.evidence[0].passage.doc_id == "2"  # the article named by the question comes first
    (p,) = plain.ask_detailed([q], top_n=3)
    assert [a.text for a in r.answers] != [a.text for a in p.answers]
    readers = [a.reader_score for a in r.answers]
    assert readers == sorted(readers)  # ascending: the ranker's order, not the reader's
    assert all(a.score == pytest.approx(-a.reader_score) for a in r.answers)


def _ev(pid: str, norm: float, rank: int) -> Evidence:
    p = Passage(id=pid, doc_id=pid, title=pid, text=f"text of {pid}", start=0, end=10)
    return Evidence(p, score=norm, norm=norm, rank=rank)


def _read(ev: Evidence, score: float) -> Answer:
    p = ev.passage
    return Answer(text="x", score=score, passage=p, start=0, end=1, reader_score=score, retriever_score=0.0)


def test_evidence_order_is_best_span_plus_weighted_norm_then_retriever_order() -> None:
    a, b, c, d = _ev("a", 1.0, 0), _ev("b", 0.5, 1), _ev("c", 0.2, 2), _ev("d", 0.0, 3)
    read = [_read(c, 9.0), _read(b, 3.0), _read(c, 1.0), _read(a, 2.0)]  # d: no span read
    # relevance: a 2 + w, b 3 + w/2, c 9 + w/5; d last
    assert [e.passage.id for e in evidence_order([a, b, c, d], read, 0.0)] == ["c", "b", "a", "d"]
    assert [e.passage.id for e in evidence_order([a, b, c, d], read, 10.0)] == ["a", "c", "b", "d"]
    assert [e.passage.id for e in evidence_order([a, b, c, d], read, 1e6)] == ["a", "b", "c", "d"]
    assert evidence_order([a, b], [], 1.0) == (a, b)  # nothing read: the retriever's order
    tie = [_read(a, 1.0), _read(b, 1.0 + 0.5)]  # 1 + 1 == 1.5 + 0.5: tie keeps the retriever's order
    assert [e.passage.id for e in evidence_order([a, b], tie, 1.0)] == ["a", "b"]


class StagedFakeReader(FakeReader):
    """FakeReader split into prepare / read_prepared, with ``every_passage`` (a ``StagedRead``)."""

    def prepare(self, questions: Sequence[str], passages: Sequence[Sequence[Passage]]) -> object:
        return list(questions), [list(p) for p in passages]

    def read_prepared(
        self, prep: object, top_n: int = 1, *, every_passage: bool = False
    ) -> list[list[Answer]]:
        questions, passages = cast(tuple[list[str], list[list[Passage]]], prep)
        full = self.read(questions, passages, 10_000)
        out = []
        for answers in full:
            kept = answers[:top_n]
            if every_passage:
                seen = {a.passage.id for a in kept}
                for a in answers[top_n:]:
                    if a.passage.id not in seen:
                        seen.add(a.passage.id)
                        kept.append(a)
            out.append(kept)
        return out


def test_pipeline_orders_evidence_by_how_it_reads_and_keeps_its_answers() -> None:
    store = FakeStore()
    staged = QAPipeline(FakeRetriever(store, "paragraph"), store, StagedFakeReader(), k=6)  # type: ignore[arg-type]
    plain = QAPipeline(
        FakeRetriever(store, "paragraph"),
        store,
        StagedFakeReader(),  # type: ignore[arg-type]
        k=6,
        evidence_weight=None,
    )
    assert isinstance(staged.reader, StagedRead)
    for q in QUESTIONS[:4]:
        [got] = staged.answer(check_request([q]))
        [ref] = plain.answer(check_request([q]))
        assert got.answers == ref.answers  # the order of evidence never changes an answer
        assert sorted(e.passage.id for e in got.evidence) == sorted(e.passage.id for e in ref.evidence)
        assert got.evidence == evidence_order(
            ref.evidence,
            StagedFakeReader().read_prepared(
                ([q], [[e.passage for e in ref.evidence]]), 20, every_passage=True
            )[0],
            DEFAULT_EVIDENCE_WEIGHT,
        )
    by_reader = QAPipeline(
        FakeRetriever(store, "paragraph"),
        store,
        StagedFakeReader(),  # type: ignore[arg-type]
        k=6,
        evidence_weight=0.0,
    )
    moved = by_reader.answer(check_request(QUESTIONS[:4]))
    kept = plain.answer(check_request(QUESTIONS[:4]))
    for r in kept:
        assert [e.rank for e in r.evidence] == sorted(e.rank for e in r.evidence)  # the retriever's order
    assert any(m.evidence != k.evidence for m, k in zip(moved, kept, strict=True))
