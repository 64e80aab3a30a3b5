from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from drqa_ng.errors import IndexFormatError, InputError, NotFoundError
from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.sparse import SparseIndex
from drqa_ng.retrieval.tokenize import ngrams, token_texts
from drqa_ng.types import Passage
from indexing.sparse import build_sparse_index

TEXTS = [
    "The cat sat on the mat in the garden.",
    "A dog chased the cat around the garden and the garden shed.",
    "Paris is the capital and largest city of France.",
    "The Eiffel Tower is a wrought-iron tower in Paris, France.",
    "Dogs and cats are popular pets; the cat is often lazy.",
    "Quantum physics describes nature at the scale of atoms.",
    "The garden cat and the garden dog sleep in the garden.",
    "Москва — столица России, а Париж — столица Франции.",
]
QUERIES = [
    "cat in the garden",
    "capital of France",
    "Eiffel tower Paris",
    "garden dog",
    "столица России",
    "cat cat",
]


def passages(texts: list[str] = TEXTS) -> list[Passage]:
    return [Passage(f"d{i}#p0", f"d{i}", f"Title {i}", t, 0, len(t)) for i, t in enumerate(texts)]


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sp") / "bm25"
    build_sparse_index(
        passages(), out, unit="paragraph", buckets=2**20, include_title=False, show_progress=False
    )
    return out


@pytest.fixture(scope="module")
def tfidf_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sp") / "tfidf"
    build_sparse_index(
        passages(),
        out,
        unit="paragraph",
        scoring="tfidf",
        buckets=2**20,
        include_title=False,
        show_progress=False,
    )
    return out


def test_bm25_matches_rank_bm25(bm25_index: Path) -> None:
    idx = SparseIndex.open(bm25_index)
    ref = BM25Okapi([ngrams(token_texts(t)) for t in TEXTS], k1=1.5, b=0.75, epsilon=0.25)
    positive = 0
    for q in QUERIES:
        expected = ref.get_scores(ngrams(token_texts(q)))
        got = np.zeros(len(TEXTS))
        for h in idx.search([q], k=len(TEXTS))[0]:
            got[int(h.doc_id[1:])] = h.score
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-6)
        positive += int(got.max() > 0)
    assert positive >= len(QUERIES) - 1  # "cat cat": idf log(4.5/4.5) == 0 everywhere


def test_bm25_epsilon_floor_used(tmp_path: Path) -> None:
    # "cat" is in 4 of 5 units: its raw idf is negative, so BM25Okapi floors it at eps * mean idf.
    texts = ["cat one", "cat two", "cat three", "cat four", "dog five"]
    out = tmp_path / "i"
    build_sparse_index(
        passages(texts), out, unit="paragraph", buckets=2**16, include_title=False, show_progress=False
    )
    ref = BM25Okapi([ngrams(token_texts(t)) for t in texts])
    idx = SparseIndex.open(out)
    hits = idx.search(["cat"], 5)[0]
    assert len(hits) == 4
    np.testing.assert_allclose([h.score for h in hits], ref.get_scores(["cat"])[:4], atol=1e-5)
    assert all(h.score > 0 for h in hits)
    # "one" is in one unit of 5: idf log(4.5/1.5) > 0; a term in exactly half would score 0.
    assert [h.id for h in idx.search(["one"], 5)[0]] == ["d0#p0"]


def test_zero_score_units_are_not_hits(tmp_path: Path) -> None:
    texts = ["cat one", "cat two", "dog three", "dog four"]  # "cat": df 2 of 4 -> idf log(2.5/2.5) = 0
    out = tmp_path / "z"
    build_sparse_index(
        passages(texts), out, unit="paragraph", buckets=2**16, include_title=False, show_progress=False
    )
    assert SparseIndex.open(out).search(["cat"], 3) == [[]]


def test_tfidf_matches_hand_formula(tfidf_index: Path) -> None:
    idx = SparseIndex.open(tfidf_index)
    docs = [ngrams(token_texts(t)) for t in TEXTS]
    n = len(docs)
    for q in QUERIES:
        qterms = ngrams(token_texts(q))
        expected = np.zeros(n)
        for term in set(qterms):
            nt = sum(term in d for d in docs)
            idf = max(0.0, math.log((n - nt + 0.5) / (nt + 0.5)))
            for i, d in enumerate(docs):
                if term in d:
                    expected[i] += math.log1p(qterms.count(term)) * idf * math.log1p(d.count(term)) * idf
        got = np.zeros(n)
        for h in idx.search([q], k=n)[0]:
            got[int(h.doc_id[1:])] = h.score
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-6)


def test_hits_are_ranked_with_ids(bm25_index: Path) -> None:
    idx = SparseIndex.open(bm25_index)
    assert isinstance(idx, Retriever)
    assert idx.unit == "paragraph" and idx.scoring == "bm25" and len(idx) == len(TEXTS)
    [hits, hits2] = idx.search(["Eiffel tower", "quantum atoms"], k=2)
    assert hits[0].id == "d3#p0" and hits[0].doc_id == "d3"
    assert hits2[0].id == "d5#p0" and len(hits2) == 1
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    assert idx.search(["zebra unicorn"], k=3) == [[]]
    assert idx.search([], k=3) == []
    assert idx.manifest.units == len(TEXTS)


@pytest.mark.parametrize("bad", [[""], ["   \n"], ["ok", ""]])
def test_empty_query_is_input_error(bm25_index: Path, bad: list[str]) -> None:
    with pytest.raises(InputError):
        SparseIndex.open(bm25_index).search(bad, k=3)


def test_bad_k_and_string_queries(bm25_index: Path) -> None:
    idx = SparseIndex.open(bm25_index)
    with pytest.raises(InputError):
        idx.search(["cat"], k=0)
    with pytest.raises(InputError):
        idx.search("cat", k=1)


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        SparseIndex.open(tmp_path / "nope")


def test_wrong_version_and_kind(bm25_index: Path, tmp_path: Path) -> None:
    d = _copy(bm25_index, tmp_path / "v")
    m = json.loads((d / "manifest.json").read_text())
    (d / "manifest.json").write_text(json.dumps({**m, "format_version": 99}))
    with pytest.raises(IndexFormatError, match="version"):
        SparseIndex.open(d)
    (d / "manifest.json").write_text(json.dumps({**m, "kind": "dense"}))
    with pytest.raises(IndexFormatError, match="dense"):
        SparseIndex.open(d)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError):
        SparseIndex.open(d)


@pytest.mark.parametrize("victim", ["data.npy", "indices.npy", "indptr.npy", "ids.offsets.npy"])
def test_corrupt_arrays(bm25_index: Path, tmp_path: Path, victim: str) -> None:
    d = _copy(bm25_index, tmp_path / "c")
    (d / victim).write_bytes((d / victim).read_bytes()[:-8])  # truncated
    with pytest.raises(IndexFormatError):
        SparseIndex.open(d)
    (d / victim).unlink()
    with pytest.raises(IndexFormatError, match="missing"):
        SparseIndex.open(d)


def _rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Rewrite a .npy in place with the same dtype and shape: right size, wrong contents."""
    arr = np.load(path)
    np.save(path, change(arr).astype(arr.dtype))


@pytest.mark.parametrize(
    ("victim", "change", "match"),
    [
        ("indices.npy", lambda a: np.full_like(a, 2_000_000_000), "outside"),
        ("indices.npy", lambda a: np.where(np.arange(len(a)) == len(a) // 2, -1, a), "outside"),
        ("indptr.npy", lambda a: np.where(np.arange(len(a)) == len(a) // 2, a[-1] + 5, a), "monotone"),
        ("ids.offsets.npy", lambda a: np.r_[a[0], a[-2:0:-1], a[-1]], "offsets"),
    ],
    ids=["indices-2e9", "indices-negative", "indptr-not-monotone", "ids-offsets-reversed"],
)
def test_right_size_but_out_of_bounds_arrays_are_refused_at_open(
    bm25_index: Path,
    tmp_path: Path,
    victim: str,
    change,
    match: str,  # type: ignore[no-untyped-def]
) -> None:
    """Before: the index opened and the first query hit an IndexError traceback (500 in serve)."""
    d = _copy(bm25_index, tmp_path / "b")
    _rewrite(d / victim, change)
    with pytest.raises(IndexFormatError, match=match):
        SparseIndex.open(d)


def test_wrong_shape_detected(bm25_index: Path, tmp_path: Path) -> None:
    d = _copy(bm25_index, tmp_path / "s")
    np.save(d / "data.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(IndexFormatError, match="data"):
        SparseIndex.open(d)


def test_short_postings_path_matches_rank_bm25(tmp_path: Path) -> None:
    # 300 units and a query whose terms occur in few of them: the sort-based accumulation path.
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.choice(vocab, size=12)) for _ in range(300)]
    out = tmp_path / "big"
    build_sparse_index(
        passages(texts), out, unit="paragraph", buckets=2**18, include_title=False, show_progress=False
    )
    idx = SparseIndex.open(out)
    ref = BM25Okapi([ngrams(token_texts(t)) for t in texts])
    for q in ["w7 w311", "w42", texts[5][:20]]:
        df_total = sum(any(g in ngrams(token_texts(t)) for g in ngrams(token_texts(q))) for t in texts)
        assert df_total * 16 < len(texts) or q == texts[5][:20]
        expected = ref.get_scores(ngrams(token_texts(q)))
        got = np.zeros(len(texts))
        for h in idx.search([q], k=len(texts))[0]:
            got[int(h.doc_id[1:])] = h.score
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-6)


# -- SparseManifest: the one owner of the format ---------------------------------------------------

OLD_SPARSE_FIELDS = {  # what indexing.sparse wrote before the typed manifest (format 1)
    "unit": "paragraph",
    "corpus_hash": "abc",
    "docs": "/data/docs.sqlite",
    "params": {
        "scoring": "bm25",
        "k1": 1.5,
        "b": 0.75,
        "epsilon": 0.25,
        "buckets": 65536,
        "ngrams": 2,
        "filter_mode": "any",
        "tokenizer": "drqa-simple",
        "tokenizer_version": 1,
        "hash": "murmur3_32",
        "include_title": True,
    },
    "counts": {"units": 8, "nnz": 120, "occupied_buckets": 100},
    "avgdl": 15.25,
    "average_idf": 1.125,
    "build_seconds": 0.012,
}


def test_sparse_manifest_reads_and_rewrites_the_old_bytes(tmp_path: Path) -> None:
    from drqa_ng.index_io import write_manifest
    from drqa_ng.retrieval.sparse import SparseManifest

    (tmp_path / "old").mkdir()
    write_manifest(tmp_path / "old", "sparse", 1, **OLD_SPARSE_FIELDS)
    m = SparseManifest.load(tmp_path / "old")
    assert (m.unit, m.scoring, m.units, m.nnz, m.spec.buckets, m.docs) == (
        "paragraph",
        "bm25",
        8,
        120,
        65536,
        "/data/docs.sqlite",
    )
    (tmp_path / "new").mkdir()
    m.save(tmp_path / "new")
    assert (tmp_path / "new" / "manifest.json").read_bytes() == (
        tmp_path / "old" / "manifest.json"
    ).read_bytes()
    assert SparseManifest.load(tmp_path / "new") == m


def test_sparse_manifest_of_a_built_index_round_trips(tiny_sparse_index: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from drqa_ng.index_io import ShardOf
    from drqa_ng.retrieval.sparse import SparseManifest

    m = SparseManifest.load(tiny_sparse_index)
    m.save(tmp_path)
    assert (tmp_path / "manifest.json").read_bytes() == (tiny_sparse_index / "manifest.json").read_bytes()
    shard = replace(m, units=3, shard_of=ShardOf(m.units, 5), extra={"note": "kept"})
    shard.save(tmp_path)
    raw = json.loads((tmp_path / "manifest.json").read_text())
    assert raw["shard_of"] == {"units": m.units, "row_offset": 5} and raw["note"] == "kept"
    assert SparseManifest.load(tmp_path) == shard


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "dense"}, "expected 'sparse'"),
        ({"format_version": 2}, "version 2"),
        ({"unit": None}, "'unit' is not a string"),
        ({"counts": {"units": 8}}, "lacks 'nnz'"),
        ({"params": {**OLD_SPARSE_FIELDS["params"], "scoring": "dfr"}}, "unknown scoring"),  # type: ignore[dict-item]
        ({"params": {**OLD_SPARSE_FIELDS["params"], "ngrams": 9}}, "bad params"),  # type: ignore[dict-item]
        ({"avgdl": "x"}, "'avgdl' is not a number"),
    ],
)
def test_sparse_manifest_refuses_bad_fields(tmp_path: Path, change: dict[str, object], match: str) -> None:
    from drqa_ng.retrieval.sparse import SparseManifest

    data = {"kind": "sparse", "format_version": 1, **OLD_SPARSE_FIELDS, **change}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match=match):
        SparseManifest.load(tmp_path)
    with pytest.raises(IndexFormatError):
        SparseIndex.open(tmp_path)


def test_sparse_manifest_missing_key(tmp_path: Path) -> None:
    from drqa_ng.retrieval.sparse import SparseManifest

    data = {"kind": "sparse", "format_version": 1, **OLD_SPARSE_FIELDS}
    del data["params"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="lacks 'params'"):
        SparseManifest.load(tmp_path)
    with pytest.raises(NotFoundError):
        SparseManifest.load(tmp_path / "nowhere")
