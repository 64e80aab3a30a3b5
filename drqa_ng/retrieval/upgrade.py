"""A retriever that switches to a better one when its data home's config changes.

A data home built by ``quickstart`` on a CPU answers from BM25 (+ static vectors) while its MiniLM
dense index is built in the background (``indexing.background``); when that build completes it
rewrites ``config.json``. ``UpgradingRetriever`` wraps the current retriever and, before each
search, compares the config file's modification time with the one it was opened with (one ``stat``
call); on a change it reopens the retrievers with ``reopen`` and serves with those from then on, so
a running server switches without a restart. A failed reopen keeps the old retriever (and logs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from drqa_ng.errors import DrqaError
from drqa_ng.protocols import Retriever
from drqa_ng.types import Hit

log = logging.getLogger(__name__)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


class UpgradingRetriever:
    """Delegates to ``current``; reopens with ``reopen()`` when ``watch``'s mtime changes."""

    def __init__(self, current: Retriever, watch: Path, reopen: Callable[[], Retriever]) -> None:
        self.current = current
        self.watch = Path(watch)
        self._reopen = reopen
        self._seen = _mtime(self.watch)
        self._lock = threading.Lock()

    @property
    def unit(self) -> str:
        return self.current.unit

    def refresh(self) -> bool:
        """Reopen when the watched file changed since the last look; True when the retriever changed."""
        stamp = _mtime(self.watch)
        if stamp == self._seen:
            return False
        with self._lock:
            if stamp == self._seen:  # another thread reopened meanwhile
                return False
            self._seen = stamp
            try:
                new = self._reopen()
            except (DrqaError, OSError) as e:
                log.warning(
                    "%s changed but its retrievers could not be opened; keeping the old ones: %s",
                    self.watch,
                    e,
                )
                return False
            self.current = new
            log.info("%s changed: retrieval switched to %s", self.watch, type(new).__name__)
            return True

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        self.refresh()
        return self.current.search(queries, k)
