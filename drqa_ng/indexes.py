"""Every index kind the library opens: retrieval's (sparse, dense, sharded) and video's.

The packages declare their kinds beside their readers (``retrieval.loader.KINDS``,
``video.kind.INDEX_KINDS``); this module, above both, only puts the tables together, so
``retrieval`` never imports ``video`` (which builds on it). Callers that may meet any index folder
(the pipeline, ``search``) open it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from drqa_ng.protocols import Retriever
from drqa_ng.retrieval import loader
from drqa_ng.retrieval.loader import IndexKind
from drqa_ng.video.kind import INDEX_KINDS as VIDEO_KINDS

KINDS: Mapping[str, IndexKind] = {**loader.KINDS, **VIDEO_KINDS}


def open_retriever(path: Path) -> Retriever:
    """Open any index folder by its manifest's kind (NotFoundError / IndexFormatError on bad folders)."""
    return loader.open_retriever(path, KINDS)


def index_docs(path: Path) -> Path | None:
    """The doc store an index folder records, or None (a video index holds its segment texts itself)."""
    return loader.index_docs(path, KINDS)
