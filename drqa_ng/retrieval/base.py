"""Query checks every retriever shares (the ``Retriever`` protocol itself is in ``drqa_ng.protocols``)."""

from __future__ import annotations

from collections.abc import Sequence

from drqa_ng.errors import InputError
from drqa_ng.request import MAX_QUESTION_CHARS

MAX_QUERY_CHARS = MAX_QUESTION_CHARS  # one limit for a question, whichever door it came through


def check_queries(queries: Sequence[str], k: int) -> None:
    """InputError unless ``queries`` is a list of non-blank strings of at most MAX_QUERY_CHARS and k >= 1."""
    if isinstance(queries, str):
        raise InputError("search() takes a list of queries, not one string")
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    for q in queries:
        if not isinstance(q, str) or not q.strip():
            raise InputError("empty query")
        if len(q) > MAX_QUERY_CHARS:
            raise InputError(f"query longer than {MAX_QUERY_CHARS} characters")
