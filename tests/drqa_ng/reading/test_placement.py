"""Position-checked distant supervision: PTB tokens, landings at the answer's position, voting."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError
from drqa_ng.reading.placement import (
    Landing,
    PTBTokenizer,
    SpanQuestion,
    SpanTable,
    choose,
    paragraph_body,
    read_span_questions,
)
from drqa_ng.reading.placement_run import place_questions
from drqa_ng.store.docstore import DocStore

pytest.importorskip("nltk")


def _read_gz(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_ptb_tokens_match_the_cs224n_tokenisation() -> None:
    text = 'By the South. The U.S. Army (ROK) said "target practice". KMAG\'s commander won 84% in 1950.'
    toks = PTBTokenizer().tokenize(text)
    assert toks[:4] == ["By", "the", "South", "."]
    assert "U.S." in toks  # a known abbreviation does not end the sentence
    assert toks[toks.index("said") + 1] == '"'  # `` and '' are written back as "
    assert toks[toks.index("KMAG") : toks.index("KMAG") + 2] == ["KMAG", "'s"]
    assert toks[toks.index("84") : toks.index("84") + 2] == ["84", "%"]


def test_spans_point_at_the_written_text() -> None:
    text = 'He said "yes" to KMAG\'s plan.'
    for tok, a, b in PTBTokenizer().spans(text):
        assert text[a:b] == tok or (tok == '"' and text[a:b] == '"')


def test_paragraph_body_drops_a_merged_heading() -> None:
    text = "History.\n\nOrigins.\n\nThe earliest themes can be found in the 6th century BC, in Laozi."
    off, body = paragraph_body(text)
    assert body.startswith("The earliest") and text[off:].startswith("The earliest")


def _q(i: int, question: str, answer: str, start: int, votes: bool = True) -> SpanQuestion:
    return SpanQuestion(f"q{i}", question, tuple(answer.split()), start, votes)


def test_land_finds_the_answer_at_its_position_within_tolerance() -> None:
    tokens = [
        "In",
        "1858",
        "the",
        "Virgin",
        "Mary",
        "appeared",
        "to",
        "Saint",
        "Bernadette",
        "Soubirous",
        "at",
        "Lourdes",
        ".",
    ]
    qs = [
        _q(0, "To whom did the Virgin Mary appear ?", "Saint Bernadette Soubirous", 7),  # exact
        _q(1, "Where did she appear ?", "Lourdes", 13),  # shifted by -2
        _q(2, "When ?", "1858", 5),  # 4 off: outside tolerance 2
        _q(3, "Who appeared ?", "Virgin Mary", 9),  # answer elsewhere, wrong position
    ]
    got = {lg.question: lg.shift for lg in SpanTable(qs, tolerance=2).land("u1", tokens)}
    assert got == {0: 0, 1: -2}


def test_choose_places_where_other_questions_agree() -> None:
    qs = [
        _q(0, "Who did the Virgin Mary appear to ?", "x", 0),
        _q(1, "Where is the grotto replica ?", "x", 0),
        _q(2, "What year did Mary appear ?", "x", 0),
    ]
    lg = [
        Landing(0, "right", 0, 0.8),
        Landing(0, "wrong", 0, 0.9),  # higher overlap, but nobody else lands there
        Landing(1, "right", 1, 0.5),
        Landing(2, "right", 0, 0.5),
    ]
    placed = {p.question: (p.unit_id, p.votes) for p in choose(lg, qs)}
    assert placed[0] == ("right", 2)


def test_held_out_questions_do_not_vote() -> None:
    qs = [_q(0, "Who did the Virgin Mary appear to ?", "x", 0), _q(1, "Where is it ?", "x", 0, votes=False)]
    lg = [Landing(0, "u", 0, 0.8), Landing(0, "v", 0, 0.8), Landing(1, "u", 0, 0.8)]
    placed = {p.question: p.unit_id for p in choose(lg, qs)}
    assert 0 not in placed  # q1 cannot back q0, so q0's two landings stay unsupported
    assert placed[1] == "u"  # q0 still votes for the held-out question


def test_lone_landing_needs_exact_position_and_high_overlap() -> None:
    qs = [_q(0, "Who appeared at Lourdes in 1858 ?", "x", 0), _q(1, "Who won ?", "x", 0)]
    lg = [Landing(0, "u", 0, 0.75), Landing(1, "v", 1, 0.9)]
    assert [(p.question, p.unit_id) for p in choose(lg, qs)] == [(0, "u")]


def test_ambiguous_top_votes_stay_unplaced() -> None:
    qs = [_q(0, "What is it ?", "x", 0), _q(1, "a ?", "x", 0), _q(2, "b ?", "x", 0)]
    lg = [Landing(0, "u", 0, 0.9), Landing(0, "v", 0, 0.9), Landing(1, "u", 0, 0.9), Landing(2, "v", 0, 0.9)]
    assert 0 not in {p.question for p in choose(lg, qs)}


def test_spans_that_do_not_fit_the_answer_are_skipped_bad_json_fails(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(
        json.dumps({"id": "a", "question": "Who ?", "answer": "Saint Bernadette", "token_span": "3 4"})
        + "\n"
        + json.dumps({"id": "b", "question": "When ?", "answer": "1858", "token_span": "5 4"})
        + "\n"
    )
    assert [q.id for q in read_span_questions([f])] == ["a"]
    f.write_text("{not json\n")
    with pytest.raises(DataFormatError, match=r"q\.jsonl:1"):
        read_span_questions([f])


PARA = (
    "Architecturally, the school has a Catholic character. Atop the Main Building's gold dome is a golden "
    "statue of the Virgin Mary. It is a replica of the grotto at Lourdes, France where the Virgin Mary "
    "reputedly appeared to Saint Bernadette Soubirous in 1858. At the end of the main drive is a simple, "
    "modern stone statue of Mary."
)
OTHER = (
    "The Lourdes grotto was visited by many pilgrims in 1858 and later years, and a statue of Saint "
    "Bernadette Soubirous stands in the town square of the French city near the river and the old mill."
)


def test_place_questions_end_to_end(tmp_path: Path) -> None:
    from indexing.docstore import build_docstore
    from indexing.ingest.jsonl import read_jsonl

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        json.dumps({"id": "d1", "title": "Notre Dame", "text": "History.\n\n" + PARA})
        + "\n"
        + json.dumps({"id": "d2", "title": "Lourdes", "text": OTHER})
        + "\n"
    )
    build_docstore(read_jsonl(corpus), tmp_path / "docs.sqlite", show_progress=False)
    tok = PTBTokenizer()
    toks = tok.tokenize(PARA)

    def span_line(qid: str, question: str, answer: str) -> str:
        a = tok.tokenize(answer)
        s = next(i for i in range(len(toks)) if toks[i : i + len(a)] == a)
        return json.dumps(
            {"id": qid, "question": question, "answer": " ".join(a), "token_span": f"{s} {s + len(a) - 1}"}
        )

    qfile = tmp_path / "noctx.jsonl"
    qfile.write_text(
        "\n".join(
            [
                span_line(
                    "q1",
                    "To whom did the Virgin Mary allegedly appear in 1858 in Lourdes France ?",
                    "Saint Bernadette Soubirous",
                ),
                span_line("q2", "What is atop the Main Building ?", "golden statue of the Virgin Mary"),
                span_line(
                    "q3", "What sits at the end of the main drive ?", "a simple, modern stone statue of Mary"
                ),
            ]
        )
        + "\n"
    )
    known = tmp_path / "known.jsonl"
    ctx = " ".join(toks)
    ans = "Lourdes , France"
    known.write_text(
        json.dumps(
            {
                "id": "k1",
                "question": "The grotto is a replica of the one where ?",
                "context": ctx,
                "answers": [{"text": ans, "answer_start": ctx.index(ans)}],
            }
        )
        + "\n"
    )
    out = tmp_path / "placed.jsonl.gz"
    r = place_questions([qfile], tmp_path / "docs.sqlite", out, known_files=[known], min_chars=50, workers=1)
    recs = _read_gz(out)
    assert {x["id"] for x in recs} == {"q1", "q2", "q3"}
    for x in recs:
        a = x["answers"][0]
        assert x["context"] == PARA  # the merged heading is not part of the context
        assert x["context"][a["answer_start"] :].startswith(a["text"])
        assert x["title"] == "Notre Dame"
    assert {x["answers"][0]["text"] for x in recs} >= {"Saint Bernadette Soubirous"}
    assert (r.known, r.known_placed, r.known_correct) == (1, 1, 1)
    report = json.loads(out.with_name(out.name + ".report.json").read_text())
    assert report["placed"] == 3 and report["precision"] == 1.0
    with DocStore.open(tmp_path / "docs.sqlite") as store:
        assert store.count("doc") == 2


def test_cli_positions_mode_needs_no_index_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drqa_ng.cli.main import main
    from indexing.docstore import build_docstore
    from indexing.ingest.jsonl import read_jsonl

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "title": "Notre Dame", "text": PARA}) + "\n")
    build_docstore(read_jsonl(corpus), tmp_path / "docs.sqlite", show_progress=False)
    toks = PTBTokenizer().tokenize(PARA)
    s = toks.index("Saint")
    q = tmp_path / "q.jsonl"
    q.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "Who saw Mary ?",
                "answer": "Saint Bernadette Soubirous",
                "token_span": f"{s} {s + 2}",
            }
        )
        + "\n"
    )
    out = tmp_path / "o.jsonl.gz"
    assert (
        main(
            [
                "-q",
                "distant-supervise",
                str(q),
                "--positions",
                "--docs",
                str(tmp_path / "docs.sqlite"),
                "--out",
                str(out),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert "questions placed" in capsys.readouterr().out
    assert (
        main(["-q", "distant-supervise", str(q), "--docs", str(tmp_path / "docs.sqlite"), "--out", str(out)])
        != 0
    )
    assert "--index" in capsys.readouterr().err


def test_chance_landings_with_few_shared_words_do_not_vote() -> None:
    qs = [
        _q(0, "Who did the Virgin Mary appear to ?", "x", 0),
        _q(1, "How many ?", "x", 0),
        _q(2, "Which ?", "x", 0),
    ]
    # q1 and q2 land on the long list paragraph "hub" by chance: they share nothing with it
    lg = [
        Landing(0, "hub", 0, 0.9),
        Landing(0, "other", 0, 0.9),
        Landing(1, "hub", 0, 0.0),
        Landing(2, "hub", 0, 0.1),
    ]
    assert 0 not in {p.question for p in choose(lg, qs, voter_overlap=0.5)}
    assert [p.unit_id for p in choose(lg, qs, voter_overlap=0.0) if p.question == 0] == ["hub"]


def test_a_stopped_scan_resumes_from_its_finished_ranges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drqa_ng.reading import placement_run
    from drqa_ng.reading.placement import read_span_questions
    from indexing.docstore import build_docstore
    from indexing.ingest.jsonl import read_jsonl

    corpus = tmp_path / "c.jsonl"
    docs = [{"id": f"d{i}", "title": f"T{i}", "text": PARA if i % 2 else OTHER} for i in range(8)]
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    build_docstore(read_jsonl(corpus), tmp_path / "docs.sqlite", show_progress=False)
    toks = PTBTokenizer().tokenize(PARA)
    a = PTBTokenizer().tokenize("Saint Bernadette Soubirous")
    s = next(i for i in range(len(toks)) if toks[i : i + len(a)] == a)
    qfile = tmp_path / "q.jsonl"
    line = {"id": "q1", "question": "To whom did Mary appear ?", "answer": " ".join(a)}
    qfile.write_text(json.dumps(line | {"token_span": f"{s} {s + len(a) - 1}"}) + "\n")
    questions = read_span_questions([qfile])
    full = placement_run.scan(tmp_path / "docs.sqlite", questions, min_chars=50, workers=1, shards=4)
    real = placement_run._scan_range
    calls: list[int] = []

    def stopping(*args: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(placement_run, "_scan_range", stopping)
    parts = tmp_path / "parts"
    with pytest.raises(KeyboardInterrupt):
        placement_run.scan(
            tmp_path / "docs.sqlite", questions, min_chars=50, workers=1, shards=4, parts=parts
        )
    assert len(list(parts.glob("shard-*.tsv.gz"))) == 2
    calls.clear()
    again = placement_run.scan(
        tmp_path / "docs.sqlite", questions, min_chars=50, workers=1, shards=4, parts=parts
    )
    assert len(calls) == 2  # only the two ranges not kept

    def key(lg: Landing) -> tuple[int, str, int, float]:
        return lg.question, lg.unit_id, lg.shift, round(lg.overlap, 4)

    assert sorted(map(key, again[0])) == sorted(map(key, full[0])) and again[1] == full[1]
    assert len(full[0]) == 4  # the question lands on each of the four copies of its paragraph
