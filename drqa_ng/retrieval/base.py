"""The retriever protocol every index implements (sparse, dense, hybrid, video segments)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from drqa_ng.types import Hit


@runtime_checkable
class Retriever(Protocol):
    """Batch-first search: one list of hits per query, best first, at most ``k`` each."""

    @property
    def unit(self) -> str:
        """The unit the index holds: "doc", "paragraph" or "passage"."""
        ...

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]: ...
