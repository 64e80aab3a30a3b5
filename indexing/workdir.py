"""Resumable work folders of long builds (dense encoding chunks, Ray shards).

A work folder holds the finished pieces of a build and ``work.json``, the settings they were made
with; a rerun with the same settings reuses the pieces, other settings start afresh.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def prepare_work(work: Path, params: dict[str, Any]) -> None:
    """Create ``work`` (with ``work.json``), discarding an existing one made with other settings."""
    pfile = work / "work.json"
    if work.is_dir():
        try:
            same = json.loads(pfile.read_text()) == params
        except (OSError, json.JSONDecodeError):
            same = False
        if not same:
            log.warning("discarding work folder %s: it was made with other settings", work)
            shutil.rmtree(work)
    if not work.is_dir():
        work.mkdir(parents=True)
        pfile.write_text(json.dumps(params, sort_keys=True))
