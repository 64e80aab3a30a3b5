from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.types import Document
from indexing.ingest import FORMATS, detect_format, read_corpus
from tests.fixtures.corpus import tiny_corpus_records


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_tiny_jsonl_round_trip(tiny_corpus_jsonl: Path) -> None:
    assert list(read_corpus([tiny_corpus_jsonl])) == [
        d if d.text.strip() else Document(d.id, d.title, "") for d in tiny_corpus_records()
    ]


def test_drqa_format_without_title_and_int_ids(tmp_path: Path) -> None:
    p = _write_jsonl(
        tmp_path / "drqa.jsonl", [{"id": "Alan Turing", "text": "Mathematician."}, {"id": 7, "text": "x"}]
    )
    assert list(read_corpus([p])) == [
        Document("Alan Turing", "Alan Turing", "Mathematician."),
        Document("7", "7", "x"),
    ]


def test_text_normalisation(tmp_path: Path) -> None:
    raw = "  First line\r\nsame para  \r\n\r\n\r\n\n  Second\u00a0para  \n \n"
    p = _write_jsonl(tmp_path / "n.jsonl", [{"id": "a", "title": " T ", "text": raw}])
    (doc,) = read_corpus([p])
    assert doc == Document("a", "T", "First line\nsame para\n\nSecond para")


@pytest.mark.parametrize("compress", ["gz", "bz2"])
def test_compressed_jsonl_detected_by_magic(tmp_path: Path, tiny_corpus_jsonl: Path, compress: str) -> None:
    data = tiny_corpus_jsonl.read_bytes()
    packed = gzip.compress(data) if compress == "gz" else bz2.compress(data)
    p = tmp_path / f"corpus.json.{compress}"
    p.write_bytes(packed)
    assert detect_format(p) == "jsonl"
    assert [d.id for d in read_corpus([p])] == [d.id for d in read_corpus([tiny_corpus_jsonl])]


def test_squad_paragraphs_become_documents(tmp_path: Path) -> None:
    squad = {
        "version": "1.1",
        "data": [
            {
                "title": "Super_Bowl_50",
                "paragraphs": [
                    {"context": "Super Bowl 50 was an American football game.", "qas": []},
                    {"context": "The game was played in Santa Clara.", "qas": []},
                ],
            },
            {"title": "Warsaw", "paragraphs": [{"context": "Warsaw is the capital of Poland.", "qas": []}]},
        ],
    }
    p = tmp_path / "dev.json"
    p.write_text(json.dumps(squad))
    assert detect_format(p) == "squad"
    docs = list(read_corpus([p]))
    assert [d.id for d in docs] == ["squad:Super_Bowl_50:0", "squad:Super_Bowl_50:1", "squad:Warsaw:0"]
    assert docs[0].title == "Super Bowl 50" and docs[2].text == "Warsaw is the capital of Poland."
    # pretty-printed with "version" first is still detected
    p2 = tmp_path / "pretty.json"
    p2.write_text(json.dumps(squad, indent=2))
    assert detect_format(p2) == "squad"
    # squad ids are already namespaced: no source prefix
    assert all(d.id.startswith("squad:") for d in read_corpus([p], id_prefix=True))


def test_id_prefix_namespaces_sources(tmp_path: Path) -> None:
    a = _write_jsonl(tmp_path / "wiki-a.jsonl.gz", [{"id": "1", "text": "a"}])
    a.write_bytes(gzip.compress(a.read_bytes()))
    folder = tmp_path / "wiki-b"
    folder.mkdir()
    _write_jsonl(folder / "part.jsonl", [{"id": "1", "text": "b"}])
    assert [d.id for d in read_corpus([a, folder])] == ["1", "1"]
    assert [d.id for d in read_corpus([a, folder], id_prefix=True)] == ["wiki-a:1", "wiki-b:1"]


def test_folder_walk_is_sorted_and_skips_hidden_and_empty(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    _write_jsonl(tmp_path / "b" / "x.jsonl", [{"id": "b1", "text": "t"}])
    _write_jsonl(tmp_path / "a" / "y.jsonl", [{"id": "a1", "text": "t"}])
    (tmp_path / "a" / ".hidden").write_text("garbage")
    (tmp_path / "a" / "empty.jsonl").write_text("")
    assert [d.id for d in read_corpus([tmp_path])] == ["a1", "b1"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"id": "a", "text": "ok"}\n{"id": "b", "text": \n', r"bad\.jsonl:2: invalid JSON"),
        ('{"id": "a", "text": "ok"}\n\n["not", "an", "object"]\n', r"bad\.jsonl:3: expected a JSON object"),
        ('{"id": "a", "text": "ok"}\n{"id": "b"}\n', r"bad\.jsonl:2: missing or non-string \"text\""),
        ('{"text": "no id"}\n', r"bad\.jsonl:1: missing or non-string \"id\""),
        ('{"id": "a#p1", "text": "x"}\n', r"contains '#'"),
    ],
)
def test_malformed_jsonl(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(DataFormatError, match=match):
        list(read_corpus([p], "jsonl"))


def test_unknown_format_names_the_formats(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("just some prose\n")
    with pytest.raises(DataFormatError) as e:
        list(read_corpus([p]))
    for fmt in FORMATS:
        assert fmt in str(e.value)
    with pytest.raises(DataFormatError, match="unknown corpus format 'csv'"):
        list(read_corpus([p], "csv"))


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        list(read_corpus([tmp_path / "nope.jsonl"]))


def test_malformed_squad(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    p.write_text('{"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}')
    with pytest.raises(DataFormatError, match=r"paragraphs\[0\] has no string \"context\""):
        list(read_corpus([p]))
    p.write_text('{"data": [{"title": "T", "paragraphs": [\n{"context": "x",}]}]}')
    with pytest.raises(DataFormatError, match=r"s\.json:2: invalid JSON"):
        list(read_corpus([p], "squad"))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (
            '{"data": [{"title": "T", "paragraphs": [{"context": "a \\ud800 b"}]}]}',
            r'paragraphs\[0\]: "context"',
        ),
        ('{"data": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested too deeply"),
    ],
    ids=["surrogate", "deep"],
)
def test_squad_with_lone_surrogate_or_deep_nesting_is_a_data_format_error(
    tmp_path: Path, content: str, match: str
) -> None:
    """Before: UnicodeEncodeError when the store is written / RecursionError while parsing."""
    p = tmp_path / "squad.json"
    p.write_text(content)
    with pytest.raises(DataFormatError, match=match):
        list(read_corpus([p], "squad"))
