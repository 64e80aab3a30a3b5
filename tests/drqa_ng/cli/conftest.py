"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def pipe_args(tiny_sparse_index: Path, tiny_docstore: Path, tiny_model_dir: Path) -> list[str]:
    return ["--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--reader", str(tiny_model_dir)]
