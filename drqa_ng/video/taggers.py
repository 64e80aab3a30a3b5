"""Either frame tagger behind one load/save: the hand-designed ``TinyTagger`` or a ``SearchedTagger``
found by ``drqa-ng search-tagger``. Both are safetensors files; the searched one says so in its
metadata (``kind``), so one path argument (``build-video --tagger FILE``) takes either.
"""

from __future__ import annotations

from pathlib import Path

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.video.nas import SEARCHED_KIND, SearchedTagger, load_searched, save_searched
from drqa_ng.video.tagger import TinyTagger, load_tagger, save_tagger

Tagger = TinyTagger | SearchedTagger


def load_any_tagger(path: Path) -> Tagger:
    """Load a tagger file of either kind; NotFoundError / IndexFormatError on a missing or bad file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"tagger weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            kind = (f.metadata() or {}).get("kind")
    except (SafetensorError, OSError) as e:
        raise IndexFormatError(f"{path}: not a drqa-ng tagger weights file ({e})") from e
    return load_searched(path) if kind == SEARCHED_KIND else load_tagger(path)


def save_any_tagger(model: Tagger, path: Path) -> None:
    """Write ``model`` in its own kind's format."""
    if isinstance(model, SearchedTagger):
        save_searched(model, path)
    else:
        save_tagger(model, path)
