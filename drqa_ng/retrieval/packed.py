"""A transformer encoder shipped in the package as int8 rows: written by ``pack_encoder``, turned back
into an ordinary model folder by ``unpack_encoder`` (once, into the user cache).

Why not ship the fp32 folder: the tuned MiniLM is 91 MB of float32, the int8 layout a quarter of
that, and every file stays below ``SHARD_BYTES`` (common 16 MB repository and package limits). Why not
ship the int8 ONNX graph alone: the torch path (CUDA builds) needs real weights, and the unpacked
folder serves both backends unchanged (the ONNX backend exports and caches it like any folder).

Layout of a packed folder::

    manifest.json             kind "encoder-int8", name, shards with sha256, tokenizer files' sha256
    weights-00000.safetensors ... one or more shards, each below SHARD_BYTES
    config.json, tokenizer.json, tokenizer_config.json

In the shards every 2-D float tensor ``W`` of at least ``MIN_QUANT`` values is stored as
``W.int8`` (int8, same shape) and ``W.scale`` (float32, one per row): scale[r] = max_c |W[r, c]| / 127,
int8[r, c] = round(W[r, c] / scale[r]) (per-row symmetric quantisation); unpacking gives
W'[r, c] = int8[r, c] · scale[r]. Smaller tensors (biases, LayerNorm) are kept in float32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.index_io import MANIFEST, FilePart, atomic_dir, file_sha256, quantize_rows

log = logging.getLogger(__name__)

PACKED_KIND = "encoder-int8"
PACKED_VERSION = 1
SHARD_BYTES = 15 * 1024 * 1024
MIN_QUANT = 4096
"""2-D tensors with fewer values than this stay float32 (not worth a scale per row)."""
TEXT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")
UNPACKED_WEIGHTS = "model.safetensors"


@dataclass(frozen=True, slots=True)
class PackedManifest:
    """``manifest.json`` of a packed encoder folder."""

    name: str
    shards: tuple[FilePart, ...]
    files_sha256: dict[str, str]
    source_sha256: str

    def save(self, folder: Path) -> None:
        data = {
            "kind": PACKED_KIND,
            "format_version": PACKED_VERSION,
            "name": self.name,
            "shards": [{"file": s.file, "bytes": s.bytes, "sha256": s.sha256} for s in self.shards],
            "files_sha256": dict(sorted(self.files_sha256.items())),
            "source_sha256": self.source_sha256,
        }
        (Path(folder) / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> PackedManifest:
        path = Path(folder) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexFormatError(f"{path} is missing or not JSON: {e}") from e
        if data.get("kind") != PACKED_KIND:
            raise IndexFormatError(f"{path} is not a packed encoder (kind {data.get('kind')!r})")
        if data.get("format_version") != PACKED_VERSION:
            raise IndexFormatError(
                f"{path}: packed encoder version {data.get('format_version')!r}, this drqa-ng reads {PACKED_VERSION}"
            )
        try:
            shards = tuple(
                FilePart(str(s["file"]), int(s["bytes"]), str(s["sha256"])) for s in data["shards"]
            )
            return cls(str(data["name"]), shards, dict(data["files_sha256"]), str(data["source_sha256"]))
        except (KeyError, TypeError, ValueError) as e:
            raise IndexFormatError(f"{path} is malformed: {e}") from e


def is_packed(folder: Path) -> bool:
    """Whether ``folder`` holds a packed encoder (its manifest says so)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return False
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("kind") == PACKED_KIND)
    except (OSError, ValueError):
        return False


def pack_tensors(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The shard tensors for a state dict: large 2-D float tensors as int8 rows + scales."""
    out: dict[str, np.ndarray] = {}
    for name, w in tensors.items():
        if w.ndim == 2 and w.size >= MIN_QUANT and np.issubdtype(w.dtype, np.floating):
            out[name + ".int8"], out[name + ".scale"] = quantize_rows(w.astype(np.float32))
        else:
            out[name] = np.ascontiguousarray(w)
    return out


def unpack_tensors(stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of ``pack_tensors`` (up to the quantisation): W = int8 · scale per row."""
    out: dict[str, np.ndarray] = {}
    for name, arr in stored.items():
        if name.endswith(".scale"):
            continue
        if name.endswith(".int8"):
            stem = name.removesuffix(".int8")
            scale = stored.get(stem + ".scale")
            if scale is None or scale.shape != (arr.shape[0],):
                raise IndexFormatError(f"packed tensor {stem} has no matching row scales")
            out[stem] = arr.astype(np.float32) * scale[:, None]
        else:
            out[name] = arr
    return out


def pack_encoder(model_dir: Path, out: Path, name: str) -> PackedManifest:
    """Write ``model_dir`` (a folder with ``model.safetensors``, config and tokenizer) packed into ``out``."""
    from safetensors.numpy import load_file, save_file

    src = Path(model_dir) / UNPACKED_WEIGHTS
    if not src.is_file():
        raise NotFoundError(f"{model_dir} holds no {UNPACKED_WEIGHTS}")
    stored = pack_tensors(load_file(str(src)))
    with atomic_dir(Path(out)) as tmp:
        shards: list[FilePart] = []
        group: dict[str, np.ndarray] = {}

        def flush() -> None:
            if group:
                fname = f"weights-{len(shards):05d}.safetensors"
                save_file(dict(group), str(tmp / fname))
                shards.append(FilePart(fname, (tmp / fname).stat().st_size, file_sha256(tmp / fname)))
                group.clear()

        budget = SHARD_BYTES - 1024 * 1024  # room for each shard's header
        for key in sorted(stored):
            size = sum(a.nbytes for a in group.values())
            if group and size + stored[key].nbytes > budget:
                flush()
            group[key] = stored[key]
        flush()
        files = {}
        for fname in TEXT_FILES:
            if (Path(model_dir) / fname).is_file():
                shutil.copyfile(Path(model_dir) / fname, tmp / fname)
                files[fname] = file_sha256(tmp / fname)
        if "config.json" not in files or "tokenizer.json" not in files:
            raise NotFoundError(f"{model_dir} needs config.json and tokenizer.json to be packed")
        manifest = PackedManifest(name, tuple(shards), files, file_sha256(src))
        manifest.save(tmp)
    return manifest


def read_packed(folder: Path) -> tuple[PackedManifest, dict[str, np.ndarray]]:
    """The manifest and the dequantised float32 state of a packed folder, every file's sha256 checked."""
    from safetensors.numpy import load_file

    folder = Path(folder)
    manifest = PackedManifest.load(folder)
    stored: dict[str, Any] = {}
    for shard in manifest.shards:
        path = folder / shard.file
        if not path.is_file():
            raise IndexFormatError(f"{folder} is incomplete: {shard.file} missing")
        if file_sha256(path) != shard.sha256:
            raise IndexFormatError(f"{path} is corrupt: sha256 does not match {MANIFEST}")
        stored.update(load_file(str(path)))
    for fname, digest in manifest.files_sha256.items():
        if not (folder / fname).is_file() or file_sha256(folder / fname) != digest:
            raise IndexFormatError(
                f"{folder}/{fname} is missing or corrupt: sha256 does not match {MANIFEST}"
            )
    return manifest, unpack_tensors(stored)


def unpack_encoder(folder: Path, cache_root: Path) -> Path:
    """An ordinary model folder (float32 ``model.safetensors``, config, tokenizer) for the packed
    ``folder``, written once under ``cache_root`` keyed by the shards' sha256 and reused after."""
    manifest = PackedManifest.load(folder)
    key = hashlib.sha256("".join(s.sha256 for s in manifest.shards).encode()).hexdigest()[:16]
    target = Path(cache_root) / f"{manifest.name}-{key}"
    if (target / UNPACKED_WEIGHTS).is_file():
        return target
    from safetensors.numpy import save_file

    _, state = read_packed(folder)
    log.info("unpacking the shipped encoder %s into %s (once)", manifest.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(target) as tmp:
        save_file({k: np.ascontiguousarray(state[k]) for k in sorted(state)}, str(tmp / UNPACKED_WEIGHTS))
        for fname in manifest.files_sha256:
            shutil.copyfile(Path(folder) / fname, tmp / fname)
    return target
