from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError
from indexing.ingest import detect_format, read_corpus


@pytest.mark.parametrize("name", ["dump.xml", "dump.xml.bz2"])
def test_dump_articles_only(tiny_mediawiki_dump: Path, name: str) -> None:
    path = tiny_mediawiki_dump.with_name(name)
    assert detect_format(path) == "mediawiki"
    docs = list(read_corpus([path]))
    # redirect (11), disambiguation pages (12, 16, 17), talk (13) and project (14) pages are skipped
    assert [(d.id, d.title) for d in docs] == [("10", "Paris"), ("15", "Marie Curie")]
    paris = docs[0].text
    assert paris.split("\n\n") == [
        "Paris is the capital of France. It is known for art and fashion.",
        "History",
        "The city was founded by the Parisii in the 3rd century BC.",
        "Paris hosted the Summer Olympics in 1900.",
    ]
    for junk in (
        "cite web",
        "Infobox",
        "Category",
        "thumb",
        "skyline",
        "wikitable",
        "2,148,000",
        "NOTOC",
        "comment",
        "Some book",
        "'''",
        "[[",
    ):
        assert junk not in paris, junk
    assert (
        docs[1].text
        == "Marie Curie was a physicist and chemist.\n\nShe won the Nobel Prize in Physics in 1903."
    )


def test_malformed_xml(tmp_path: Path) -> None:
    p = tmp_path / "bad.xml"
    p.write_text(
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">\n<siteinfo><sitename>x</sitename>\n<page><title>A</oops>\n'
    )
    with pytest.raises(DataFormatError, match=r"bad\.xml:3"):
        list(read_corpus([p]))
