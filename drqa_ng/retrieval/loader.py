"""Open any retriever index folder by the ``kind`` in its manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drqa_ng.errors import IndexFormatError
from drqa_ng.index_io import manifest_kind
from drqa_ng.protocols import Retriever


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
    kind = manifest_kind(Path(path))
    opener = OPENERS.get(kind)
    if opener is None:
        raise IndexFormatError(f"{path}: no retriever for index kind {kind!r} (known: {', '.join(OPENERS)})")
    return opener(Path(path))


def index_docs(path: Path) -> Path | None:
    """The doc store an index folder records (its manifest's ``docs``), or None when it names none."""
    from drqa_ng.retrieval.dense import DenseManifest
    from drqa_ng.retrieval.sharded import ShardedManifest
    from drqa_ng.retrieval.sparse import SparseManifest
    from drqa_ng.video.manifest import KIND as VIDEO_KIND

    manifests: dict[str, Callable[[Path], SparseManifest | DenseManifest | ShardedManifest]] = {
        SparseManifest.KIND: SparseManifest.load,
        DenseManifest.KIND: DenseManifest.load,
        ShardedManifest.KIND: ShardedManifest.load,
    }
    kind = manifest_kind(Path(path))
    if kind == VIDEO_KIND:
        return None  # a video index holds its segment texts itself
    if kind not in manifests:
        raise IndexFormatError(
            f"{path}: no retriever for index kind {kind!r} (known: {', '.join(manifests)})"
        )
    docs = manifests[kind](Path(path)).docs
    return Path(docs) if docs else None
