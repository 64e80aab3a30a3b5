"""One real WikiExtractor .bz2 file from each shared Wikipedia tree, and the shared SQuAD file."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.ingest import detect_format, read_corpus

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.mark.parametrize(
    ("tree", "doc_id", "title", "phrase"),
    [
        ("simplewiki-2018", "1", "April", "April is the fourth month of the year"),
        ("enwiki-2015-part", "12", "Anarchism", "Anarchism is a political philosophy"),
    ],
)
def test_real_wikiextractor_file(shared_data: Path, tree: str, doc_id: str, title: str, phrase: str) -> None:
    path = shared_data / "wiki" / tree / "AA" / "wiki_00.bz2"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    assert detect_format(path) == "wikiextractor"
    docs = list(read_corpus([path]))
    assert len(docs) > 20
    by_id = {d.id: d for d in docs}
    assert len(by_id) == len(docs)
    doc = by_id[doc_id]
    assert doc.title == title
    assert doc.text.startswith(phrase)  # the title line is dropped
    assert "<doc" not in doc.text and "</doc>" not in doc.text
    assert all("\n\n\n" not in d.text for d in docs)


def test_real_squad_part_a(shared_data: Path) -> None:
    path = shared_data / "squad" / "dev-v1.1-part-A.json"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    docs = list(read_corpus([path]))
    assert len({d.title for d in docs}) == 40
    assert all(d.id.startswith("squad:") and d.text for d in docs)
