"""Open any retriever index folder by the ``kind`` in its manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drqa_ng.errors import IndexFormatError
from drqa_ng.index_io import read_manifest
from drqa_ng.retrieval.base import Retriever


def _open_sparse(path: Path) -> Retriever:
    from drqa_ng.retrieval.sparse import SparseIndex

    return SparseIndex.open(path)


def _open_dense(path: Path) -> Retriever:  # added by the dense area (H3)
    from drqa_ng.retrieval.dense import DenseIndex

    return DenseIndex.open(path)


def _open_sharded(path: Path) -> Retriever:
    from drqa_ng.retrieval.sharded import open_sharded

    retriever: Retriever = open_sharded(path)
    return retriever


def _open_video(path: Path) -> Retriever:
    from drqa_ng.video.index import VideoIndex

    return VideoIndex.open(path)  # a retriever over segment passages (no doc store: search prints ids)


# kind -> opener. Each opener imports its module lazily so opening a sparse index never loads
# torch/faiss. To add a kind (e.g. "dense"), add one entry here.
OPENERS: dict[str, Callable[[Path], Retriever]] = {
    "sparse": _open_sparse,
    "dense": _open_dense,
    "sharded": _open_sharded,
    "video": _open_video,
}


def open_retriever(path: Path) -> Retriever:
    """Open the index at ``path`` as a Retriever; NotFoundError / IndexFormatError on bad folders."""
    kind = read_manifest(Path(path))["kind"]
    opener = OPENERS.get(kind)
    if opener is None:
        raise IndexFormatError(f"{path}: no retriever for index kind {kind!r} (known: {', '.join(OPENERS)})")
    return opener(Path(path))
