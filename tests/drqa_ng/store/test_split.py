from __future__ import annotations

import pytest

from drqa_ng.store.split import (
    doc_unit,
    paragraph_spans,
    parse_unit_id,
    passage_spans,
    split_paragraphs,
    split_passages,
    unit_id,
)
from drqa_ng.types import Document, Passage, doc_id_of


def _check_offsets(doc: Document, units: list[Passage]) -> None:
    for u in units:
        assert doc.text[u.start : u.end] == u.text
        assert u.doc_id == doc.id and u.title == doc.title


def test_paragraphs_split_on_blank_lines_and_skip_empty() -> None:
    doc = Document("d", "T", "\n\nFirst para line one\nline two.\n\n  \n\n  Second paragraph.  \n\n\n")
    ps = split_paragraphs(doc)
    assert [p.text for p in ps] == ["First para line one\nline two.", "Second paragraph."]
    assert [p.id for p in ps] == ["d#p0", "d#p1"]
    assert all(p.unit == "paragraph" for p in ps)
    _check_offsets(doc, ps)


def test_paragraph_offsets_non_ascii() -> None:
    text = "Η Αθήνα είναι η πρωτεύουσα.\n\n東京は日本の首都です。😀 emoji\n\nCafé déjà vu."
    doc = Document("g", "Ελλάδα", text)
    ps = split_paragraphs(doc)
    assert len(ps) == 3
    assert ps[1].text == "東京は日本の首都です。😀 emoji"
    _check_offsets(doc, ps)
    ws = split_passages(doc, words=2)
    _check_offsets(doc, ws)
    assert ws[0].text == "Η Αθήνα"


def test_short_paragraphs_merge_into_next_and_last_into_previous() -> None:
    text = "History.\n\nA long enough paragraph about history.\n\nEnd."
    spans = paragraph_spans(text, min_chars=20)
    assert [text[a:b] for a, b in spans] == [
        "History.\n\nA long enough paragraph about history.\n\nEnd.",
    ]
    text2 = "Intro.\n\nBody of the first section here.\n\nAnother body paragraph here.\n\nx"
    got = [text2[a:b] for a, b in paragraph_spans(text2, min_chars=20)]
    assert got == [
        "Intro.\n\nBody of the first section here.",
        "Another body paragraph here.\n\nx",
    ]
    assert paragraph_spans("tiny", min_chars=20) == [(0, 4)]
    assert paragraph_spans("a\n\nb", min_chars=20) == [(0, 4)]
    # min_chars=0: no merging
    assert len(paragraph_spans(text, 0)) == 3


def test_passages_are_disjoint_word_windows() -> None:
    words = [f"w{i}" for i in range(250)]
    text = " ".join(words[:120]) + "\n\n" + " ".join(words[120:])
    doc = Document("x", "X", text)
    ps = split_passages(doc, words=100)
    assert [p.id for p in ps] == ["x#w0", "x#w1", "x#w2"]
    assert [len(p.text.split()) for p in ps] == [100, 100, 50]
    assert ps[1].text.split()[0] == "w100" and "\n\n" in ps[1].text
    assert [w for p in ps for w in p.text.split()] == words
    assert ps[0].end < ps[1].start
    _check_offsets(doc, ps)
    assert passage_spans("", 100) == []
    with pytest.raises(ValueError):
        passage_spans("a b", 0)


def test_unit_ids_round_trip() -> None:
    for uid, expected in [
        ("12", ("12", "doc", 0)),
        ("12#p3", ("12", "paragraph", 3)),
        ("simple:12#w10", ("simple:12", "passage", 10)),
    ]:
        assert parse_unit_id(uid) == expected
        assert unit_id(*expected) == uid
        assert doc_id_of(uid) == expected[0]
    for bad in ("12#", "12#p", "12#x1", "12#p1a", "12#w-1"):
        assert parse_unit_id(bad) is None


@pytest.mark.parametrize(
    "bad",
    [
        "316223#p\u00b2",  # str.isdigit() accepts the superscript two; int() does not
        "316223#p\u0663",  # an Arabic-Indic digit: int() would read it, the pattern is ASCII only
        "316223#p99999999999999999999",  # past SQLite's 64-bit integers
        "1#p" + "1" * 4301,  # past Python's int-parsing digit limit
        "1#p1234567890",  # ten digits: longer than any ordinal a store holds
    ],
    ids=["superscript", "arabic-indic", "past-int64", "4301-digits", "ten-digits"],
)
def test_unit_ids_with_non_ascii_or_unbounded_ordinals_do_not_parse(bad: str) -> None:
    """Before: "²" passed ``isdigit()`` and ``int()`` raised ValueError (500 on /v1/docs)."""
    assert parse_unit_id(bad) is None


def test_doc_unit_is_whole_text() -> None:
    doc = Document("d", "T", "one\n\ntwo")
    u = doc_unit(doc)
    assert (u.id, u.unit, u.text, u.start, u.end) == ("d", "doc", doc.text, 0, len(doc.text))
