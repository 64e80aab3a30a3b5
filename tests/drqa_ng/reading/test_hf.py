"""Bring your own reader (issue 13, item 5): any Hugging Face extractive-QA checkpoint as ``--reader``,
on torch or exported to int8 ONNX, including tokenizers without token types (RoBERTa, DistilBERT).
The checkpoints are tiny random models built locally (tests/fixtures/reader.py); nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import NotFoundError
from drqa_ng.reading.features import load_tokenizer, make_windows
from drqa_ng.reading.hf import resolve_checkpoint
from drqa_ng.reading.reader import load_reader
from drqa_ng.types import Passage
from tests.fixtures.corpus import TINY_FACTS
from tests.fixtures.reader import HF_QA_TYPES

Q = "When was the Eiffel Tower completed?"
TEXT = "The Eiffel Tower was completed in 1889 as the entrance arch to the World's Fair. " * 12


def _passage(text: str = TEXT) -> Passage:
    return Passage("e#p1", "e", "Eiffel Tower", text, 0, len(text))


@pytest.mark.parametrize("kind", HF_QA_TYPES)
def test_windows_match_the_hf_tokenizer(hf_qa_checkpoints: dict[str, Path], kind: str) -> None:
    """Our tokenizers-only windows are the HF fast tokenizer's, special tokens and token types included."""
    from transformers import AutoTokenizer

    folder = hf_qa_checkpoints[kind]
    hf = AutoTokenizer.from_pretrained(str(folder))
    w = make_windows(load_tokenizer(folder), [Q, "capital?"], [TEXT, "Paris is the capital."], 64, 16)
    enc = hf(
        [Q, "capital?"],
        [TEXT, "Paris is the capital."],
        truncation="only_second",
        max_length=64,
        stride=16,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        return_token_type_ids=True,
    )
    ids = np.asarray(enc["input_ids"])
    mask = np.asarray(enc["attention_mask"]).astype(bool)
    assert ids.shape == w.input_ids.shape and len(w) > 2
    np.testing.assert_array_equal(np.where(mask, ids, -1), np.where(w.attention_mask > 0, w.input_ids, -1))
    np.testing.assert_array_equal(enc["overflow_to_sample_mapping"], w.pair)
    for r in range(len(w)):
        ctx = [i for i, s in enumerate(enc.sequence_ids(r)) if s == 1]
        np.testing.assert_array_equal(np.asarray(enc["offset_mapping"][r])[ctx], w.offsets[r, ctx])


@pytest.mark.slow
@pytest.mark.parametrize("kind", HF_QA_TYPES)
def test_checkpoint_reads_on_torch_and_as_exported_int8_onnx(
    hf_qa_checkpoints: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    from drqa_ng.reading.onnx_io import export_reader

    folder = hf_qa_checkpoints[kind]
    torch_r = load_reader(folder)
    assert torch_r.backend == "torch"
    answers = torch_r.read([Q], [[_passage()]], top_n=3)[0]
    assert len(answers) == 3
    for a in answers:
        assert a.passage.text[a.start : a.end] == a.text
    manifest = export_reader(folder, tmp_path / "int8", tmp_path / "fp32")
    assert manifest["source_kind"] == "hf-qa" and manifest["model_type"] == kind
    fp32 = load_reader(tmp_path / "fp32")
    w = make_windows(torch_r.tokenizer, [Q], [TEXT], 64, 16)
    for r in range(len(w)):
        row = w.rows(np.array([r]))
        np.testing.assert_allclose(fp32.logits_fn(row)[0], torch_r.logits_fn(row)[0], atol=1e-4)
    int8 = load_reader(tmp_path / "int8")
    assert int8.backend == "onnx"
    got = int8.read([Q], [[_passage()]], top_n=3)[0]
    assert got and all(a.passage.text[a.start : a.end] == a.text for a in got)


@pytest.mark.slow
def test_ask_with_a_checkpoint_reader_on_torch_and_onnx(  # type: ignore[no-untyped-def]
    run_cli,
    hf_qa_checkpoints: dict[str, Path],
    tiny_sparse_index: Path,
    tiny_docstore: Path,
    tmp_path: Path,
    monkeypatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    args = [
        "--index",
        str(tiny_sparse_index),
        "--docs",
        str(tiny_docstore),
        "--reader",
        str(hf_qa_checkpoints["roberta"]),
    ]
    for backend in ("torch", "onnx"):  # onnx: exported once into the cache, then read from there
        rc, out, err = run_cli("ask", *args, "--backend", backend, "--json", TINY_FACTS[0][0])
        assert rc == 0, err
        assert json.loads(out)["answers"]
    assert list((tmp_path / "cache" / "drqa_ng" / "readers").glob("*-int8/manifest.json"))


def test_unknown_hub_name_is_not_downloaded_when_downloads_are_off() -> None:
    with pytest.raises(NotFoundError, match="local Hugging Face cache"):
        resolve_checkpoint("drqa-ng-test/no-such-reader", allow_download=False)
    with pytest.raises(NotFoundError, match="not found"):
        resolve_checkpoint("/no/such/folder")
