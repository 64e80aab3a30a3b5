from __future__ import annotations

import bz2
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import InputError
from drqa_ng.retrieval.sparse import SparseIndex
from drqa_ng.types import Passage
from indexing.sparse import build_sparse_from_store, build_sparse_index

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
]


def corpus(n: int, seed: int = 0) -> list[Passage]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(0, 30))))
        out.append(Passage(f"doc{i // 3}#p{i % 3}", f"doc{i // 3}", f"T{i}", text, 0, len(text)))
    return out


def arrays(path: Path) -> dict[str, np.ndarray]:
    names = ["indptr", "indices", "data", "ids.bytes", "ids.offsets"]
    return {n: np.load(path / f"{n}.npy") for n in names}


@pytest.mark.parametrize("scoring", ["bm25", "tfidf"])
def test_chunking_does_not_change_the_index(tmp_path: Path, scoring: str) -> None:
    units = corpus(101)
    ref = build_sparse_index(
        units,
        tmp_path / "one",
        unit="paragraph",
        scoring=scoring,
        buckets=4096,
        chunk_size=1000,
        show_progress=False,
    )
    assert ref.units == 101 and ref.nnz > 0
    a = arrays(tmp_path / "one")
    for size in (1, 7, 50):
        build_sparse_index(
            iter(units),
            tmp_path / f"c{size}",
            unit="paragraph",
            scoring=scoring,
            buckets=4096,
            chunk_size=size,
            show_progress=False,
        )
        b = arrays(tmp_path / f"c{size}")
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{name} differs at chunk_size={size}")


def test_worker_processes_give_the_same_index(tmp_path: Path) -> None:
    units = corpus(80)
    build_sparse_index(
        units, tmp_path / "a", unit="paragraph", buckets=4096, chunk_size=9, show_progress=False
    )
    build_sparse_index(
        units, tmp_path / "b", unit="paragraph", buckets=4096, chunk_size=9, workers=2, show_progress=False
    )
    a, b = arrays(tmp_path / "a"), arrays(tmp_path / "b")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_rows_sorted_within_columns(tmp_path: Path) -> None:
    build_sparse_index(
        corpus(60), tmp_path / "i", unit="paragraph", buckets=512, chunk_size=8, show_progress=False
    )
    a = arrays(tmp_path / "i")
    for c in range(512):
        col = a["indices"][a["indptr"][c] : a["indptr"][c + 1]]
        assert (np.diff(col) > 0).all()


def test_streams_a_generator_once_and_records_manifest(tmp_path: Path) -> None:
    consumed = []

    def gen() -> Iterator[Passage]:
        for p in corpus(10):
            consumed.append(p.id)
            yield p

    rep = build_sparse_index(
        gen(),
        tmp_path / "i",
        unit="paragraph",
        buckets=1024,
        corpus_hash="abc",
        show_progress=False,
        k1=1.2,
        b=0.5,
    )
    assert len(consumed) == 10 and rep.units == 10
    m = json.loads((tmp_path / "i" / "manifest.json").read_text())
    assert m["kind"] == "sparse" and m["format_version"] == 1 and m["unit"] == "paragraph"
    assert m["corpus_hash"] == "abc" and m["docs"] is None
    assert (
        m["params"].items() >= {"scoring": "bm25", "k1": 1.2, "b": 0.5, "buckets": 1024, "ngrams": 2}.items()
    )
    assert m["counts"]["units"] == 10 and m["counts"]["nnz"] == rep.nnz
    assert not any(p.name.startswith("_") for p in (tmp_path / "i").iterdir())
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_empty_inputs(tmp_path: Path) -> None:
    rep = build_sparse_index([], tmp_path / "e", unit="doc", buckets=64, show_progress=False)
    assert rep.units == 0 and rep.nnz == 0
    assert SparseIndex.open(tmp_path / "e").search(["anything"], 3) == [[]]
    blank = [Passage(f"d{i}", f"d{i}", "", t, 0, len(t), "doc") for i, t in enumerate(["", "  ", "?!"])]
    rep = build_sparse_index(
        blank, tmp_path / "b", unit="doc", buckets=64, include_title=False, show_progress=False
    )
    assert rep.units == 3 and rep.nnz == 0


def test_replaces_existing_index_atomically(tmp_path: Path) -> None:
    out = tmp_path / "i"
    build_sparse_index(corpus(5), out, unit="paragraph", buckets=64, show_progress=False)
    build_sparse_index(corpus(9), out, unit="paragraph", buckets=64, show_progress=False)
    assert len(SparseIndex.open(out)) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i"]


def test_title_is_indexed_unless_disabled(tmp_path: Path) -> None:
    units = [Passage("d0#p0", "d0", "Zanzibar", "an island text", 0, 14)]
    build_sparse_index(units, tmp_path / "t", unit="paragraph", buckets=256, show_progress=False)
    build_sparse_index(
        units, tmp_path / "n", unit="paragraph", buckets=256, include_title=False, show_progress=False
    )
    assert SparseIndex.open(tmp_path / "t").search(["zanzibar"], 1)[0][0].id == "d0#p0"
    assert SparseIndex.open(tmp_path / "n").search(["zanzibar"], 1) == [[]]


@pytest.mark.parametrize(
    "kwargs",
    [{"scoring": "lucene"}, {"unit": "sentence"}, {"buckets": 0}, {"k1": -1.0}, {"b": 2.0}, {"ngrams": 9}],
)
def test_bad_parameters(tmp_path: Path, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"unit": "paragraph", "show_progress": False} | kwargs
    with pytest.raises(InputError):
        build_sparse_index(corpus(3), tmp_path / "x", **args)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_build_from_store(tiny_docstore: Path, tmp_path: Path) -> None:
    from drqa_ng.store.docstore import DocStore

    store = DocStore.open(tiny_docstore)
    rep = build_sparse_from_store(
        tiny_docstore, tmp_path / "s", unit="paragraph", buckets=2**16, show_progress=False
    )
    assert rep.units == store.count("paragraph") > 0
    m = SparseIndex.open(tmp_path / "s").manifest
    assert m.corpus_hash == store.corpus_hash() and m.docs and Path(m.docs) == Path(tiny_docstore).resolve()


def _wiki_articles(path: Path) -> Iterator[tuple[str, str, str]]:
    """(id, title, text) of each <doc> block in a WikiExtractor .bz2 file (test-local parser)."""
    raw = bz2.decompress(path.read_bytes()).decode("utf-8")
    for m in re.finditer(r'<doc id="([^"]*)"[^>]*title="([^"]*)">\n(.*?)</doc>', raw, re.S):
        body = m.group(3).split("\n", 1)[1] if "\n" in m.group(3) else ""
        yield m.group(1), m.group(2), body.strip()


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.slow
def test_real_wiki_article_found_by_its_title(shared_data: Path, tmp_path: Path) -> None:
    files = sorted((shared_data / "wiki" / "simplewiki-2018").rglob("wiki_*.bz2"))[:2]
    if not files:
        pytest.skip("no simplewiki files in shared data")
    units = []
    for f in files:
        for doc_id, title, text in _wiki_articles(f):
            for i, para in enumerate(p for p in text.split("\n") if p.strip()):
                units.append(Passage(f"{doc_id}#p{i}", doc_id, title, para, 0, len(para)))
    titles = {u.doc_id: u.title for u in units}
    assert len(titles) > 100
    build_sparse_index(units, tmp_path / "w", unit="paragraph", buckets=2**20, show_progress=False)
    idx = SparseIndex.open(tmp_path / "w")
    picks = [d for d in list(titles)[:: max(1, len(titles) // 20)] if len(titles[d].split()) >= 2][:10]
    found = 0
    for doc_id, hits in zip(picks, idx.search([titles[d] for d in picks], k=10), strict=True):
        found += any(h.doc_id == doc_id for h in hits)
    assert found >= 0.8 * len(picks), f"only {found}/{len(picks)} articles found by their titles"
