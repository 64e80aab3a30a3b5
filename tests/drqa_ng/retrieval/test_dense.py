from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError, InputError, NotFoundError
from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.dense import DenseIndex, gpu_available
from drqa_ng.retrieval.encoder import Encoder
from indexing.dense import build_dense_from_units
from tests.fixtures.dense import tiny_passages


@pytest.fixture(scope="module")
def passage_index(dense_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dense_units") / "idx"
    build_dense_from_units(tiny_passages(), out, dense_encoder, "paragraph", factory="Flat")
    return out


def test_finds_paraphrased_facts(passage_index: Path, dense_encoder: Encoder) -> None:
    idx = DenseIndex.open(passage_index, encoder=dense_encoder)
    assert isinstance(idx, Retriever) and idx.unit == "paragraph" and len(idx) == 8
    hits = idx.search(
        [
            "Which peak is the tallest on the planet?",
            "Who found the first antibiotic?",
            "When did astronauts first walk on the lunar surface?",
        ],
        k=3,
    )
    assert [h[0].doc_id for h in hits] == ["everest", "penicillin", "moon"]
    assert all(len(h) == 3 for h in hits)
    assert hits[0][0].id == "everest#p0" and hits[0][0].score > hits[0][1].score


def test_k_larger_than_index_and_bad_input(passage_index: Path, dense_encoder: Encoder) -> None:
    idx = DenseIndex.open(passage_index, encoder=dense_encoder)
    assert len(idx.search(["river"], k=50)[0]) == 8
    assert idx.search([], k=3) == []
    with pytest.raises(InputError):
        idx.search(["river"], k=0)
    with pytest.raises(InputError):
        idx.search_vectors(np.zeros((1, 5), dtype=np.float32), 3)


def test_search_vectors_is_exact_inner_product(passage_index: Path, dense_encoder: Encoder) -> None:
    idx = DenseIndex.open(passage_index, encoder=dense_encoder)
    docs = dense_encoder.encode([f"{p.title}\n{p.text}" for p in tiny_passages()])
    q = dense_encoder.encode(["a hot drink made from leaves"])
    (hits,) = idx.search_vectors(q, 8)
    expected = (docs @ q[0]).argsort()[::-1]
    assert [h.id for h in hits] == [tiny_passages()[i].id for i in expected]
    assert hits[0].score == pytest.approx(float(docs[expected[0]] @ q[0]), abs=1e-5)


def test_loads_recorded_encoder_lazily(passage_index: Path) -> None:
    idx = DenseIndex.open(passage_index)
    assert idx._encoder is None  # vector-only use never loads a model
    assert idx.encoder.name == "tuned-minilm"  # the shipped default


def test_hnsw_and_ivf_params(dense_encoder: Encoder, tmp_path: Path) -> None:
    for factory in ("HNSW16", "IVF2,Flat"):
        out = tmp_path / factory.replace(",", "_")
        build_dense_from_units(tiny_passages(), out, dense_encoder, "paragraph", factory=factory)
        idx = DenseIndex.open(out, encoder=dense_encoder)
        idx.set_search_params(nprobe=2, ef_search=64)
        assert idx.search(["Which peak is the tallest on the planet?"], 1)[0][0].doc_id == "everest"
        with pytest.raises(InputError):
            idx.set_search_params(nprobe=0)


def test_open_errors(passage_index: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        DenseIndex.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFormatError):
        DenseIndex.open(tmp_path / "empty")
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(passage_index, bad)
    (bad / "ids.offsets.npy").unlink()
    with pytest.raises(IndexFormatError, match=r"ids\.offsets\.npy"):
        DenseIndex.open(bad)
    wrong_kind = tmp_path / "wrong"
    shutil.copytree(passage_index, wrong_kind)
    m = (wrong_kind / "manifest.json").read_text().replace('"kind": "dense"', '"kind": "sparse"')
    (wrong_kind / "manifest.json").write_text(m)
    with pytest.raises(IndexFormatError, match="sparse"):
        DenseIndex.open(wrong_kind)


def test_tiny_docstore_index_answers_facts(tiny_dense_index: Path, dense_encoder: Encoder) -> None:
    from tests.fixtures.corpus import LONG_DOC_ID, TINY_FACTS

    facts = [f for f in TINY_FACTS if not f[2].startswith(LONG_DOC_ID)]  # the index holds TINY_DOCS only
    idx = DenseIndex.open(tiny_dense_index, encoder=dense_encoder)
    assert idx.unit == "paragraph"
    assert len(facts) >= 9
    hits = idx.search([q for q, _, _ in facts], k=3)
    found = sum(uid in {h.id for h in hs} for (_, _, uid), hs in zip(facts, hits, strict=True))
    assert found >= 0.8 * len(facts)


@pytest.mark.gpu
def test_flat_index_moves_to_gpu(passage_index: Path, dense_encoder: Encoder) -> None:
    if not gpu_available():
        pytest.skip("faiss-gpu with a GPU not available")
    idx = DenseIndex.open(passage_index, encoder=dense_encoder, use_gpu=True)
    assert idx.on_gpu
    assert idx.search(["Which peak is the tallest on the planet?"], 1)[0][0].doc_id == "everest"


# -- DenseManifest: the one owner of the format ----------------------------------------------------

OLD_DENSE_FIELDS = {  # what indexing.dense wrote before the typed manifest (format 1)
    "unit": "paragraph",
    "count": 8,
    "dim": 384,
    "factory": "Flat",
    "requested_factory": "Flat",
    "metric": "inner_product",
    "normalized": True,
    "encoder": {
        "name": "all-MiniLM-L6-v2",
        "sha256": "f" * 64,
        "backend": "onnx-int8",
        "max_length": 256,
        "query_max_length": 64,
        "text_format": "title\\ntext",
    },
    "corpus_hash": "abc",
    "docs": "/data/docs.sqlite",
    "faiss_version": "1.8.0",
    "train_seed": 0,
    "faiss_seconds": 0.004,
    "chunk_size": 4096,
    "batch_size": 64,
}


def test_dense_manifest_reads_and_rewrites_the_old_bytes(tmp_path: Path) -> None:
    from drqa_ng.index_io import write_manifest
    from drqa_ng.retrieval.dense import DenseManifest

    (tmp_path / "old").mkdir()
    write_manifest(tmp_path / "old", "dense", 1, **OLD_DENSE_FIELDS)
    m = DenseManifest.load(tmp_path / "old")
    assert (m.count, m.dim, m.encoder.backend, m.encoder.query_max_length, m.chunk_size) == (
        8,
        384,
        "onnx-int8",
        64,
        4096,
    )
    (tmp_path / "new").mkdir()
    m.save(tmp_path / "new")
    assert (tmp_path / "new" / "manifest.json").read_bytes() == (
        tmp_path / "old" / "manifest.json"
    ).read_bytes()
    assert DenseManifest.load(tmp_path / "new") == m


def test_dense_manifest_of_a_built_index_round_trips(passage_index: Path, tmp_path: Path) -> None:
    from drqa_ng.retrieval.dense import DenseManifest

    DenseManifest.load(passage_index).save(tmp_path)
    assert (tmp_path / "manifest.json").read_bytes() == (passage_index / "manifest.json").read_bytes()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "sparse"}, "expected 'dense'"),
        ({"format_version": 7}, "version 7"),
        ({"dim": "384"}, "'dim' is not an integer"),
        ({"encoder": ["x"]}, "expected a JSON object"),
        ({"count": None}, "'count' is not an integer"),
    ],
)
def test_dense_manifest_refuses_bad_fields(tmp_path: Path, change: dict[str, object], match: str) -> None:
    import json

    from drqa_ng.retrieval.dense import DenseManifest

    (tmp_path / "manifest.json").write_text(
        json.dumps({"kind": "dense", "format_version": 1, **OLD_DENSE_FIELDS, **change})
    )
    with pytest.raises(IndexFormatError, match=match):
        DenseManifest.load(tmp_path)


def test_dense_manifest_missing_key(tmp_path: Path) -> None:
    import json

    from drqa_ng.retrieval.dense import DenseManifest

    data = {"kind": "dense", "format_version": 1, **OLD_DENSE_FIELDS}
    del data["factory"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="lacks 'factory'"):
        DenseManifest.load(tmp_path)


def test_similarities_score_given_units_as_search_does(passage_index: Path, dense_encoder: Encoder) -> None:
    idx = DenseIndex.open(passage_index, encoder=dense_encoder)
    q = "Which peak is the tallest on the planet?"
    hits = idx.search([q], 3)[0]
    [sims] = idx.similarities([q], [[h.id for h in hits] + ["no-such-unit"]])
    np.testing.assert_allclose(sims[:3], [h.score for h in hits], rtol=1e-5, atol=1e-6)
    assert np.isnan(sims[3])
    with pytest.raises(InputError):
        idx.similarities([q], [])


def test_query_vectors_are_encoded_once(passage_index: Path, dense_encoder: Encoder) -> None:
    calls: list[int] = []

    class Counting:
        name, dim, sha256 = dense_encoder.name, dense_encoder.dim, dense_encoder.sha256

        def encode(self, texts: list[str], batch_size: int = 64, max_length: int | None = None) -> np.ndarray:
            calls.append(len(texts))
            return dense_encoder.encode(texts, batch_size=batch_size, max_length=max_length)

    idx = DenseIndex.open(passage_index, encoder=Counting())  # type: ignore[arg-type]
    idx.search(["tallest peak", "longest river"], 2)
    idx.similarities(["longest river", "tallest peak"], [["x"], ["y"]])
    assert calls == [2]  # the second call found both questions' vectors


def test_similarities_on_hnsw_and_ivf(dense_encoder: Encoder, tmp_path: Path) -> None:
    for factory in ("HNSW16", "IVF2,Flat"):
        out = tmp_path / factory.replace(",", "_")
        build_dense_from_units(tiny_passages(), out, dense_encoder, "paragraph", factory=factory)
        idx = DenseIndex.open(out, encoder=dense_encoder)
        [hit] = idx.search(["Which peak is the tallest on the planet?"], 1)[0]
        [sims] = idx.similarities(["Which peak is the tallest on the planet?"], [[hit.id]])
        assert sims[0] == pytest.approx(hit.score, abs=1e-4)


def test_more_queries_than_the_cache_holds_keep_their_own_vectors(
    passage_index: Path, dense_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drqa_ng.retrieval import dense

    monkeypatch.setattr(dense, "QUERY_CACHE", 1)
    idx = DenseIndex.open(passage_index, encoder=dense_encoder)
    qs = ["tallest peak", "longest river", "capital of France"]
    together = idx.query_vectors(qs)
    alone = np.stack([dense_encoder.encode([q], batch_size=1, max_length=64)[0] for q in qs])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
