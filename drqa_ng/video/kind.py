"""The index kind this package adds to ``drqa_ng.indexes``: a video index opens as a retriever over
its segment passages (no doc store: the index holds its texts)."""

from __future__ import annotations

from pathlib import Path

from drqa_ng.protocols import Retriever
from drqa_ng.retrieval.loader import IndexKind
from drqa_ng.video.manifest import KIND


def _open_video(path: Path) -> Retriever:
    from drqa_ng.video.index import VideoIndex  # torch-free, but only needed once a video index is met

    return VideoIndex.open(path)


def _no_docs(path: Path) -> Path | None:
    return None


INDEX_KINDS: dict[str, IndexKind] = {KIND: IndexKind(_open_video, _no_docs)}
