from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import InputError, NotFoundError, UnsupportedError
from drqa_ng.reading.features import Windows
from drqa_ng.reading.model import load_tokenizer
from drqa_ng.reading.reader import ReaderSettings, SpanReader, load_reader
from drqa_ng.types import Passage


def _p(pid: str, text: str) -> Passage:
    return Passage(id=pid, doc_id=pid.split("#")[0], title=pid, text=text, start=0, end=len(text))


def _zebra_logits(tok: object, boost: str = "zebra") -> object:
    """Fake model: high start+end logits on the token ``boost``; everything else 0."""
    target = tok.token_to_id(boost)  # type: ignore[attr-defined]

    def fn(w: Windows) -> tuple[np.ndarray, np.ndarray]:
        hit = (w.input_ids == target) & w.context_mask
        return hit * 5.0, hit * 4.0

    return fn


def test_answer_found_in_second_window_of_long_passage(tiny_encoder_dir: Path) -> None:
    tok = load_tokenizer(tiny_encoder_dir)
    filler = " ".join(f"w{i}" for i in range(60))
    text = filler + " a zebra here " + filler
    reader = SpanReader(
        tok, _zebra_logits(tok), ReaderSettings(max_length=40, stride=8, batch_size=3), "fake"
    )  # type: ignore[arg-type]
    [[ans]] = reader.read(["what animal?"], [[_p("d#p0", "nothing at all"), _p("d#p1", text)]])
    assert ans.text == "zebra"
    assert ans.passage.id == "d#p1"
    assert text[ans.start : ans.end] == "zebra"
    assert ans.reader_score == ans.score == pytest.approx(9.0)
    assert ans.retriever_score == 0.0


def test_span_with_half_a_bracket_pair_is_cut_to_its_balanced_part(tiny_encoder_dir: Path) -> None:
    """Before: "zebra) and a lion" (start token inside the parenthesis, end token after it)."""
    tok = load_tokenizer(tiny_encoder_dir)
    start_id, end_id = tok.token_to_id("zebra"), tok.token_to_id("lion")  # type: ignore[attr-defined]

    def fn(w: Windows) -> tuple[np.ndarray, np.ndarray]:
        return ((w.input_ids == start_id) & w.context_mask) * 5.0, (
            (w.input_ids == end_id) & w.context_mask
        ) * 4.0

    reader = SpanReader(tok, fn, ReaderSettings(max_length=40, stride=8), "fake")
    text = "the animal (a zebra) and a lion ran"
    [[ans]] = reader.read(["what animal?"], [[_p("d#p0", text)]])
    assert ans.text == "zebra"
    assert text[ans.start : ans.end] == "zebra"
    assert ans.score == pytest.approx(9.0)  # the span's score is kept


def test_top_n_ranks_across_passages_and_dedupes_overlapping_windows(tiny_encoder_dir: Path) -> None:
    tok = load_tokenizer(tiny_encoder_dir)
    base = _zebra_logits(tok)

    def fn(w: Windows) -> tuple[np.ndarray, np.ndarray]:
        s, e = base(w)  # type: ignore[operator]
        return s + w.context_mask * 0.01 * np.arange(w.input_ids.shape[1]), e

    reader = SpanReader(tok, fn, ReaderSettings(max_length=24, stride=10, batch_size=2), "fake")
    text = "one two zebra three four five six seven eight nine ten"
    out = reader.read(["q?"], [[_p("a", text), _p("b", "no stripes")]], top_n=3)[0]
    assert len(out) == 3
    assert out[0].text.endswith("zebra")
    assert [a.score for a in out] == sorted((a.score for a in out), reverse=True)
    assert len({(a.passage.id, a.start, a.end) for a in out}) == 3


def test_every_passage_appends_each_unlisted_passage_best_span_after_the_top_n(
    tiny_encoder_dir: Path,
) -> None:
    tok = load_tokenizer(tiny_encoder_dir)
    base = _zebra_logits(tok)

    def fn(w: Windows) -> tuple[np.ndarray, np.ndarray]:
        s, e = base(w)  # type: ignore[operator]
        return s + w.context_mask * 0.01 * np.arange(w.input_ids.shape[1]), e

    reader = SpanReader(tok, fn, ReaderSettings(max_length=40, stride=8), "fake")
    passages = [_p("a", "one zebra two zebra three"), _p("b", "no stripes here"), _p("c", "a lion")]
    top = reader.read(["q?"], [passages], top_n=2)[0]
    every = reader.read(["q?"], [passages], top_n=2, every_passage=True)[0]
    assert every[:2] == top and {a.passage.id for a in top} == {"a"}
    extra = every[2:]
    assert sorted(a.passage.id for a in extra) == ["b", "c"]  # one span each, best first
    assert [a.score for a in extra] == sorted((a.score for a in extra), reverse=True)
    for a in extra:  # each is its passage's best span among all the reader kept
        full = reader.read(["q?"], [[a.passage]], top_n=50)[0]
        assert a.score == pytest.approx(full[0].score)
    prep = reader.prepare(["q?"], [passages])
    assert reader.read_prepared(prep, 2, every_passage=True) == [every]


def test_default_batches_pad_each_call_only_to_its_own_longest_window(tiny_encoder_dir: Path) -> None:
    """Ten passages of very different lengths: the default reader runs them in length-sorted calls of
    at most ``ReaderSettings().batch_size`` windows, each as wide as its longest window, so the model
    sees far fewer padded positions than one call padded to the longest of all ten."""
    tok = load_tokenizer(tiny_encoder_dir)
    base, calls = _zebra_logits(tok), []

    def fn(w: Windows) -> tuple[np.ndarray, np.ndarray]:
        calls.append((w.input_ids.shape, int(w.attention_mask.sum())))
        return base(w)  # type: ignore[operator,no-any-return]

    default = ReaderSettings()
    assert default.batch_size == 4
    reader = SpanReader(tok, fn, ReaderSettings(max_length=128, stride=32), "fake")
    passages = [
        _p(f"d#p{i}", " ".join(["word"] * (3 + 10 * i)) + (" zebra" if i == 4 else "")) for i in range(10)
    ]
    [[ans]] = reader.read(["which animal?"], [passages])
    assert ans.text == "zebra" and ans.passage.id == "d#p4"
    assert [shape[0] for shape, _ in calls] == [4, 4, 2]
    widths = [shape[1] for shape, _ in calls]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # short windows are not padded to the longest
    padded, real = sum(s[0] * s[1] for s, _ in calls), sum(n for _, n in calls)
    assert padded < 0.75 * 10 * widths[-1]  # what one call of all ten would have computed
    assert real <= padded
    with pytest.raises(InputError, match="window batch"):
        load_reader(tiny_encoder_dir, batch_size=0)


def test_answers_do_not_depend_on_batch_or_other_questions(tiny_model_dir: Path) -> None:
    texts = [
        "The Eiffel Tower is in Paris, France, and was built in 1889 by Gustave Eiffel's company.",
        "Mount Kilimanjaro is the highest mountain in Africa. " * 6,
        "Short one.",
    ]
    qs = ["Where is the Eiffel Tower?", "What is the highest mountain?", "What?"]
    ps = [[_p(f"d{i}", t)] for i, t in enumerate(texts)]
    big = load_reader(tiny_model_dir, batch_size=16).read(qs, ps, top_n=2)
    one = load_reader(tiny_model_dir, batch_size=1)
    for i in range(3):
        alone = one.read([qs[i]], [ps[i]], top_n=2)[0]
        assert [(a.start, a.end) for a in alone] == [(a.start, a.end) for a in big[i]]
        assert [a.score for a in alone] == pytest.approx([a.score for a in big[i]], abs=1e-4)
        for a in alone:
            assert a.passage.text[a.start : a.end] == a.text


def test_empty_inputs_and_bad_arguments(tiny_model_dir: Path) -> None:
    reader = load_reader(tiny_model_dir)
    assert reader.read([], []) == []
    assert reader.read(["q?"], [[]]) == [[]]
    assert reader.read(["q?"], [[_p("x", "   ")]]) == [[]]
    with pytest.raises(InputError):
        reader.read(["a", "b"], [[]])
    with pytest.raises(InputError):
        reader.read(["a"], [[]], top_n=0)
    with pytest.raises(InputError):
        load_reader(tiny_model_dir, backend="gpu")
    with pytest.raises(UnsupportedError):
        load_reader(tiny_model_dir, backend="onnx")
    with pytest.raises(NotFoundError):
        load_reader(tiny_model_dir.parent / "nope")
