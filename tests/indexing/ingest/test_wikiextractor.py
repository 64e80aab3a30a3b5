from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError
from drqa_ng.types import Document
from indexing.ingest import detect_format, read_corpus
from indexing.ingest.wikiextractor import is_article_title
from tests.fixtures.corpus import WIKIEXTRACTOR_DOCS

EXPECTED = [
    Document(
        "1", "April", "April is the fourth month of the year in the Gregorian calendar.\n\nIt has 30 days."
    ),
    Document("2", "Zeus", 'Zeus is the sky and thunder god in ancient Greek religion, "king of the gods".'),
    Document(
        "5", "Ozone", "Ozone is a molecule made of three oxygen atoms.\n\nIt protects life from UV light."
    ),
    Document("8", 'Quote "Title"', "A title containing quotes must still be parsed."),
    Document(
        "10", "Star Wars: A New Hope", "A 1977 film; the colon in its title does not make it a namespace."
    ),
]


@pytest.mark.parametrize("flavour", ["text", "json"])
def test_tree_plain_and_bz2(tiny_wikiextractor_tree: Path, flavour: str) -> None:
    tree = tiny_wikiextractor_tree / flavour
    assert len(EXPECTED) == len(WIKIEXTRACTOR_DOCS) - 1  # Help:Contents is skipped
    assert detect_format(tree / "AA" / "wiki_00") == "wikiextractor"
    assert detect_format(tree / "AB" / "wiki_00.bz2") == "wikiextractor"
    assert list(read_corpus([tree])) == EXPECTED
    assert list(read_corpus([tree], "wikiextractor")) == EXPECTED


def test_both_flavours_prefixed(tiny_wikiextractor_tree: Path) -> None:
    ids = [
        d.id
        for d in read_corpus(
            [tiny_wikiextractor_tree / "text", tiny_wikiextractor_tree / "json"], id_prefix=True
        )
    ]
    assert ids[:2] == ["text:1", "text:2"] and ids[5:7] == ["json:1", "json:2"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('<doc id="1" url="u" title="A">\nA\ntext\n<doc id="2" url="u" title="B">\n', r"w:4: <doc> inside"),
        ('<doc id="1" url="u" title="A">\nA\ntext\n', r"w:3: file ends inside the document opened on line 1"),
        ('<doc id="1" url="u" title="A">\nA\n</doc>\n</doc>\n', r"w:4: </doc> without"),
        ('<doc id="1" url="u" title="A">\nA\n</doc>\nstray text\n', r"w:4: text outside"),
        ('<doc url="u">\n</doc>\n', r"w:1: <doc> header without id/title"),
    ],
)
def test_malformed(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "w"
    p.write_text(content)
    with pytest.raises(DataFormatError, match=match):
        list(read_corpus([p]))


def test_title_line_kept_when_it_differs(tmp_path: Path) -> None:
    p = tmp_path / "w"
    p.write_text(
        '<doc id="3" url="u" title="Foo &amp; Bar">\nFoo & Bar\n\nBody.\n</doc>\n<doc id="4" url="u" title="X">\nBody only.\n</doc>\n'
    )
    assert list(read_corpus([p])) == [Document("3", "Foo & Bar", "Body."), Document("4", "X", "Body only.")]


def test_is_article_title() -> None:
    assert (
        is_article_title("Paris")
        and is_article_title("Star Wars: A New Hope")
        and is_article_title("2001: A Space Odyssey")
    )
    for t in ("Wikipedia:About", "MediaWiki:Summary", "help: Contents", "Template talk:X", "Category:Cities"):
        assert not is_article_title(t), t
