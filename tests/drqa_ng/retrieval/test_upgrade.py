"""UpgradingRetriever: switches retrievers when the watched config file changes, keeps the old on failure."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from drqa_ng.errors import IndexFormatError
from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.upgrade import UpgradingRetriever
from drqa_ng.types import Hit


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def unit(self) -> str:
        return "paragraph"

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        return [[Hit(id=f"{self.name}#p0", doc_id=self.name, score=1.0)] for _ in queries]


def _touch(path: Path, ns: int) -> None:
    path.write_text("{}")
    os.utime(path, ns=(ns, ns))


def test_switches_when_the_config_changes(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    _touch(cfg, 1_000_000_000)
    opened: list[str] = []

    def reopen() -> Retriever:
        opened.append("dense")
        return _Named("dense")

    r = UpgradingRetriever(_Named("sparse"), cfg, reopen)
    assert isinstance(r, Retriever) and r.unit == "paragraph"
    assert r.search(["q"], 1)[0][0].doc_id == "sparse"
    assert opened == []  # unchanged file: nothing reopened
    _touch(cfg, 2_000_000_000)
    assert r.search(["q", "q2"], 1)[1][0].doc_id == "dense"
    assert r.search(["q"], 1)[0][0].doc_id == "dense" and opened == ["dense"]  # reopened once


def test_a_failed_reopen_keeps_the_old_retriever(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    _touch(cfg, 1_000_000_000)

    def reopen() -> Retriever:
        raise IndexFormatError("half-written index")

    r = UpgradingRetriever(_Named("sparse"), cfg, reopen)
    _touch(cfg, 2_000_000_000)
    assert not r.refresh()
    assert r.search(["q"], 1)[0][0].doc_id == "sparse"


def test_a_missing_file_appearing_counts_as_a_change(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    r = UpgradingRetriever(_Named("sparse"), cfg, lambda: _Named("dense"))
    assert not r.refresh()
    _touch(cfg, 3_000_000_000)
    assert r.refresh() and r.current.search(["q"], 1)[0][0].doc_id == "dense"
