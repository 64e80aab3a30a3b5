from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError, InputError
from drqa_ng.retrieval.dense import DenseIndex
from drqa_ng.retrieval.encoder import Encoder
from indexing.dense import adapt_factory, build_dense_from_units, build_faiss, work_dir_for
from tests.fixtures.dense import tiny_passages


def test_adapt_factory_shrinks_nlist_and_rejects_untrainable_pq(caplog: pytest.LogCaptureFixture) -> None:
    assert adapt_factory("Flat", 5) == "Flat"
    assert adapt_factory("IVF4096,Flat", 1_000_000) == "IVF4096,Flat"
    with caplog.at_level("WARNING"):
        assert adapt_factory("IVF4096,PQ48", 10_000) == "IVF256,PQ48"
    assert "nlist reduced" in caplog.text
    assert adapt_factory("IVF64,Flat", 10) == "IVF1,Flat"
    with pytest.raises(InputError):
        adapt_factory("IVF16,PQ8", 100)


def test_build_faiss_trains_ivf_from_chunks() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    parts = [x[:250], x[250:]]
    index = build_faiss("IVF4,Flat", 16, [lambda p=p: p for p in parts], 600)
    assert index.ntotal == 600
    index.nprobe = 4  # all lists: exact
    _, rows = index.search(x[:5], 1)
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]


def interrupt(i: int) -> None:
    raise KeyboardInterrupt


def test_build_resumes_after_interruption(dense_encoder: Encoder, tmp_path: Path) -> None:
    units = tiny_passages()
    out = tmp_path / "idx"

    with pytest.raises(KeyboardInterrupt):
        build_dense_from_units(units, out, dense_encoder, "paragraph", chunk_size=3, on_chunk=interrupt)
    assert not out.exists()
    assert sorted(p.name for p in work_dir_for(out).glob("emb-*.npy")) == ["emb-000000.npy"]

    res = build_dense_from_units(units, out, dense_encoder, "paragraph", chunk_size=3)
    assert (res.chunks, res.chunks_encoded, res.count) == (3, 2, 8)
    assert not work_dir_for(out).exists()

    fresh = build_dense_from_units(units, tmp_path / "fresh", dense_encoder, "paragraph", chunk_size=3)
    assert fresh.chunks_encoded == 3
    q = dense_encoder.encode(["largest planet"])
    a = DenseIndex.open(out, encoder=dense_encoder).search_vectors(q, 8)
    b = DenseIndex.open(tmp_path / "fresh", encoder=dense_encoder).search_vectors(q, 8)
    assert [x.id for x in a[0]] == [x.id for x in b[0]]
    np.testing.assert_allclose([x.score for x in a[0]], [x.score for x in b[0]], atol=1e-6)


def test_changed_settings_discard_stale_work(dense_encoder: Encoder, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    with pytest.raises(KeyboardInterrupt):
        build_dense_from_units(
            tiny_passages(), out, dense_encoder, "paragraph", chunk_size=4, on_chunk=interrupt
        )
    res = build_dense_from_units(tiny_passages(), out, dense_encoder, "paragraph", chunk_size=3)
    assert res.chunks_encoded == res.chunks == 3


def test_manifest_records_encoder_and_counts(dense_encoder: Encoder, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    build_dense_from_units(
        tiny_passages(),
        out,
        dense_encoder,
        "paragraph",
        factory="HNSW32",
        corpus_hash="abc",
        docs_path="/d.sqlite",
    )
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "dense" and m["format_version"] == 1
    assert m["count"] == 8 and m["dim"] == 384 and m["unit"] == "paragraph"
    assert m["factory"] == "HNSW32" and m["metric"] == "inner_product"
    assert m["encoder"]["name"] == "tuned-minilm" and m["encoder"]["sha256"] == dense_encoder.sha256
    assert m["corpus_hash"] == "abc" and m["docs"] == "/d.sqlite"


def test_empty_corpus_and_bad_factory_are_input_errors(dense_encoder: Encoder, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        build_dense_from_units([], tmp_path / "idx", dense_encoder, "paragraph")
    with pytest.raises(InputError, match="factory"):
        build_dense_from_units(
            tiny_passages(), tmp_path / "idx2", dense_encoder, "paragraph", factory="Nope12"
        )
    assert not work_dir_for(tmp_path / "idx2").exists()  # rejected before any encoding


def test_corrupt_index_fails_loudly(dense_encoder: Encoder, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    build_dense_from_units(tiny_passages(), out, dense_encoder, "paragraph")
    (out / "index.faiss").write_bytes(b"garbage" * 10)
    with pytest.raises(IndexFormatError, match="corrupt"):
        DenseIndex.open(out)
