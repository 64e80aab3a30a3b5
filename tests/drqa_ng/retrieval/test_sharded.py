"""Sharded indexes (N shard folders + manifest) return exactly the unsharded top-k."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.cli.main import main
from drqa_ng.errors import IndexFormatError, UnsupportedError
from drqa_ng.index_io import read_manifest, write_manifest
from drqa_ng.retrieval.loader import open_retriever
from drqa_ng.retrieval.sparse import SparseIndex
from indexing.shard import split_index
from indexing.sparse import build_sparse_from_store

QUERIES = [
    "capital of France",
    "Nobel Prize in Physics 1903",
    "Python programming language",
    "Eiffel Tower completed",
    "the",
    "who won the prize for chemistry",
]


@pytest.mark.parametrize("shards", [1, 2, 3, 7])
def test_sparse_shards_give_the_unsharded_top_k(tiny_sparse_index: Path, tmp_path: Path, shards: int) -> None:
    split_index(tiny_sparse_index, tmp_path / "sh", shards)
    assert len(read_manifest(tmp_path / "sh")["shards"]) == shards
    ref, sh = SparseIndex.open(tiny_sparse_index), open_retriever(tmp_path / "sh")
    assert sh.unit == ref.unit
    for k in (1, 3, 10, 100):
        assert sh.search(QUERIES, k) == ref.search(QUERIES, k)


@pytest.mark.slow
def test_dense_index_shards_match_flat(tiny_dense_index: Path, tmp_path: Path) -> None:
    from drqa_ng.retrieval.dense import DenseIndex

    split_index(tiny_dense_index, tmp_path / "sh", 3)
    ref, sh = DenseIndex.open(tiny_dense_index, use_gpu=False), open_retriever(tmp_path / "sh")
    rng = np.random.default_rng(0)
    q = rng.standard_normal((25, ref.manifest.dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    for k in (1, 5, 50):
        assert sh.search_vectors(q, k) == ref.search_vectors(q, k)  # type: ignore[attr-defined]


def test_cli_shard_index_then_search(
    tiny_sparse_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["shard-index", str(tiny_sparse_index), str(tmp_path / "sh"), "--shards", "2"]) == 0
    capsys.readouterr()
    assert main(["search", str(tmp_path / "sh"), "capital of France", "-k", "3", "--json"]) == 0
    sharded_out = capsys.readouterr().out
    assert main(["search", str(tiny_sparse_index), "capital of France", "-k", "3", "--json"]) == 0
    assert capsys.readouterr().out == sharded_out


def test_tfidf_and_bad_manifests_are_refused(
    tiny_docstore: Path, tiny_sparse_index: Path, tmp_path: Path
) -> None:
    build_sparse_from_store(
        tiny_docstore, tmp_path / "t", scoring="tfidf", buckets=2**16, show_progress=False
    )
    with pytest.raises(UnsupportedError):
        split_index(tmp_path / "t", tmp_path / "x", 2)
    split_index(tiny_sparse_index, tmp_path / "sh", 2)
    m = read_manifest(tmp_path / "sh")
    m["shards"][1]["row_offset"] += 1
    write_manifest(tmp_path / "sh", m.pop("kind"), m.pop("format_version"), **m)
    with pytest.raises(IndexFormatError, match="starts at row"):
        open_retriever(tmp_path / "sh")


def test_sharded_manifest_round_trips_and_refuses_bad_fields(tiny_sparse_index: Path, tmp_path: Path) -> None:
    import json

    from drqa_ng.retrieval.sharded import ShardedManifest, ShardEntry

    split_index(tiny_sparse_index, tmp_path / "sh", 3)
    m = ShardedManifest.load(tmp_path / "sh")
    assert m.base_kind == "sparse" and [e.path for e in m.shards] == [f"shard-0000{i}" for i in range(3)]
    assert m.shards[0] == ShardEntry("shard-00000", 0, m.shards[0].units)
    (tmp_path / "copy").mkdir()
    m.save(tmp_path / "copy")
    assert (tmp_path / "copy" / "manifest.json").read_bytes() == (
        tmp_path / "sh" / "manifest.json"
    ).read_bytes()
    data = json.loads((tmp_path / "sh" / "manifest.json").read_text())
    for change, match in [
        ({"format_version": 2}, "version 2"),
        ({"kind": "dense"}, "expected 'sharded'"),
        ({"shards": [{"path": "shard-00000", "units": 1}]}, "lacks 'row_offset'"),
        ({"shards": "shard-00000"}, "not a list"),
    ]:
        (tmp_path / "copy" / "manifest.json").write_text(json.dumps({**data, **change}))
        with pytest.raises(IndexFormatError, match=match):
            ShardedManifest.load(tmp_path / "copy")
    shard = SparseIndex.open(tmp_path / "sh" / "shard-00001").manifest
    assert shard.shard_of is not None and shard.shard_of.row_offset == m.shards[1].row_offset


@pytest.mark.slow
def test_sharded_dense_similarities_read_each_shard(tiny_dense_index: Path, tmp_path: Path) -> None:
    from drqa_ng.retrieval.dense import DenseIndex

    split_index(tiny_dense_index, tmp_path / "sh", 3)
    ref, sh = DenseIndex.open(tiny_dense_index, use_gpu=False), open_retriever(tmp_path / "sh")
    ids = [*[ref._ids[i] for i in range(len(ref))][::-1], "no-such-unit"]
    want = ref.similarities(["capital of France"], [ids])[0]
    got = sh.similarities(["capital of France"], [ids])[0]  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.isnan(got[-1]) and not np.isnan(got[:-1]).any()
