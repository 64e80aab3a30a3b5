"""Static (Model2Vec) encoder: distilled locally from a tiny random BERT, read back without model2vec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import InputError, NotFoundError
from drqa_ng.retrieval.static import StaticEncoder, resolve_static_dir
from tests.fixtures.dense import tiny_passages

pytestmark = pytest.mark.slow  # distils a (tiny) teacher: one forward pass per vocabulary token


def test_distilled_model_folder(tiny_static_dir: Path) -> None:
    from safetensors.numpy import load_file

    table = load_file(str(tiny_static_dir / "model.safetensors"))["embeddings"]
    assert table.shape[1] == 16 and table.shape[0] > 1000  # one row per kept vocabulary token
    assert (tiny_static_dir / "tokenizer.json").is_file()


def test_encode_is_unit_norm_and_matches_model2vec(tiny_static_dir: Path) -> None:
    from model2vec import StaticModel

    enc = StaticEncoder.load(tiny_static_dir)
    texts = ["Who discovered penicillin?", "Jupiter is the fifth planet from the Sun.", "tea"]
    vecs = enc.encode(texts)
    assert vecs.shape == (3, 16) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    ref = StaticModel.from_pretrained(str(tiny_static_dir)).encode(texts)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(vecs, ref, atol=2e-3)  # float16 table, summed in a different order


def test_rows_do_not_depend_on_the_batch(tiny_static_dir: Path) -> None:
    enc = StaticEncoder.load(tiny_static_dir)
    texts = [p.text for p in tiny_passages()]
    together = enc.encode(texts, batch_size=3)
    alone = np.vstack([enc.encode([t]) for t in texts])
    np.testing.assert_array_equal(together, alone)


def test_max_length_caps_tokens_and_empty_text_is_zero(tiny_static_dir: Path) -> None:
    enc = StaticEncoder.load(tiny_static_dir)
    long = "penicillin mould bacteria " * 50
    assert not np.allclose(enc.encode([long], max_length=2), enc.encode([long]))
    np.testing.assert_array_equal(enc.encode([""]), np.zeros((1, 16), dtype=np.float32))
    with pytest.raises(InputError):
        enc.encode(["x"], batch_size=0)


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"model\.safetensors"):
        resolve_static_dir(tmp_path)


def test_static_dense_index_loads_its_encoder_from_the_manifest(
    tiny_static_dir: Path, tmp_path: Path
) -> None:
    from drqa_ng.retrieval.dense import DenseIndex
    from indexing.dense import build_dense_from_units

    res = build_dense_from_units(
        tiny_passages(), tmp_path / "static", StaticEncoder.load(tiny_static_dir), "paragraph", chunk_size=3
    )
    assert (res.count, res.dim) == (8, 16)
    index = DenseIndex.open(tmp_path / "static", use_gpu=False)
    assert index.manifest.encoder.backend == "static"
    assert isinstance(index.encoder, StaticEncoder)  # reopened from the recorded folder
    (hits,) = index.search(["Alexander Fleming discovered penicillin in 1928"], 3)
    assert hits[0].id == "penicillin#p0"  # identical wording: the same tokens, the same mean vector


def test_add_docs_extends_a_static_index(
    tiny_static_dir: Path, tiny_short_docstore: Path, tmp_path: Path
) -> None:
    import shutil

    from drqa_ng.retrieval.dense import DenseIndex
    from drqa_ng.types import Document
    from indexing.add_docs import add_documents
    from indexing.dense import build_dense_index

    docs = tmp_path / "docs.sqlite"
    shutil.copyfile(tiny_short_docstore, docs)
    first = build_dense_index(docs, tmp_path / "static", encoder=StaticEncoder.load(tiny_static_dir))
    text = "Ada Lovelace wrote the first published algorithm for Babbage's Analytical Engine."
    report = add_documents([Document("ada", "Ada Lovelace", text)], docs, [tmp_path / "static"])
    assert report.indexes[0].units_added == 1  # the encoder was reopened from the manifest's record
    index = DenseIndex.open(tmp_path / "static", use_gpu=False)
    assert len(index) == first.count + 1
    (hits,) = index.search([f"Ada Lovelace\n{text}"], 1)
    assert hits[0].id == "ada#p0"
