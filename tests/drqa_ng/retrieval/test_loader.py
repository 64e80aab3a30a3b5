from __future__ import annotations

import json
from pathlib import Path

import pytest

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.loader import OPENERS, open_retriever
from drqa_ng.retrieval.sparse import SparseIndex
from drqa_ng.types import Passage
from indexing.sparse import build_sparse_index


def test_dispatches_on_manifest_kind(tmp_path: Path) -> None:
    out = tmp_path / "i"
    texts = ["alpha beta", "gamma delta", "epsilon zeta"]
    build_sparse_index(
        [Passage(f"d{i}", f"d{i}", "", t, 0, len(t), "doc") for i, t in enumerate(texts)],
        out,
        unit="doc",
        buckets=1024,
        show_progress=False,
    )
    r = open_retriever(out)
    assert isinstance(r, SparseIndex) and isinstance(r, Retriever)
    assert r.unit == "doc"
    assert [h.id for h in r.search(["gamma"], 1)[0]] == ["d1"]
    assert "sparse" in OPENERS


def test_unknown_kind_and_missing(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        open_retriever(tmp_path / "missing")
    (tmp_path / "x").mkdir()
    with pytest.raises(IndexFormatError):
        open_retriever(tmp_path / "x")
    (tmp_path / "x" / "manifest.json").write_text(json.dumps({"kind": "martian", "format_version": 1}))
    with pytest.raises(IndexFormatError, match="martian"):
        open_retriever(tmp_path / "x")
