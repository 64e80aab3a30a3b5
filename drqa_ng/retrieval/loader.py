"""Open a retriever index folder by the ``kind`` in its manifest, from a table of index kinds.

Each package declares the kinds it owns beside their readers (``KINDS`` here: sparse, dense,
sharded; ``drqa_ng.video.kind.INDEX_KINDS``: video) and ``drqa_ng.indexes`` puts the tables
together, so this package never imports a package built on top of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import IndexFormatError
from drqa_ng.index_io import manifest_kind
from drqa_ng.protocols import Retriever


@dataclass(frozen=True, slots=True)
class IndexKind:
    """How to open one kind of index folder as a Retriever, and the doc store its manifest records
    (None: the index holds its own texts, or names no store). Each imports its module lazily, so
    opening a sparse index never loads torch or faiss."""

    open: Callable[[Path], Retriever]
    docs: Callable[[Path], Path | None]


def _open_sparse(path: Path) -> Retriever:
    from drqa_ng.retrieval.sparse import SparseIndex

    return SparseIndex.open(path)


def _sparse_docs(path: Path) -> Path | None:
    from drqa_ng.retrieval.sparse import SparseManifest

    docs = SparseManifest.load(path).docs
    return Path(docs) if docs else None


def _open_dense(path: Path) -> Retriever:
    from drqa_ng.retrieval.dense import DenseIndex

    return DenseIndex.open(path)


def _dense_docs(path: Path) -> Path | None:
    from drqa_ng.retrieval.dense import DenseManifest

    docs = DenseManifest.load(path).docs
    return Path(docs) if docs else None


def _open_sharded(path: Path) -> Retriever:
    from drqa_ng.retrieval.sharded import open_sharded

    retriever: Retriever = open_sharded(path)
    return retriever


def _sharded_docs(path: Path) -> Path | None:
    from drqa_ng.retrieval.sharded import ShardedManifest

    docs = ShardedManifest.load(path).docs
    return Path(docs) if docs else None


KINDS: Mapping[str, IndexKind] = {
    "sparse": IndexKind(_open_sparse, _sparse_docs),
    "dense": IndexKind(_open_dense, _dense_docs),
    "sharded": IndexKind(_open_sharded, _sharded_docs),
}
"""The index kinds of this package; to add one, add one entry (and its reader module)."""

OPENERS: Mapping[str, Callable[[Path], Retriever]] = {k: v.open for k, v in KINDS.items()}


def _kind(path: Path, kinds: Mapping[str, IndexKind]) -> IndexKind:
    kind = manifest_kind(Path(path))
    found = kinds.get(kind)
    if found is None:
        raise IndexFormatError(f"{path}: no retriever for index kind {kind!r} (known: {', '.join(kinds)})")
    return found


def open_retriever(path: Path, kinds: Mapping[str, IndexKind] = KINDS) -> Retriever:
    """Open the index at ``path`` as a Retriever; NotFoundError / IndexFormatError on bad folders."""
    return _kind(path, kinds).open(Path(path))


def index_docs(path: Path, kinds: Mapping[str, IndexKind] = KINDS) -> Path | None:
    """The doc store an index folder records (its manifest's ``docs``), or None when it names none."""
    return _kind(path, kinds).docs(Path(path))
