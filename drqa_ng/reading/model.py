"""The span model: a pretrained transformer encoder + one linear layer giving start/end logits.

A model folder (``kind = "reader-model"``) holds ``config.json`` (the encoder's HF config),
``model.safetensors`` (encoder + head weights), the tokenizer files and ``manifest.json``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.index_io import atomic_dir
from drqa_ng.reading.features import load_tokenizer
from drqa_ng.reading.formats import MODEL_KIND, MODEL_VERSION, TOKENIZER_FILES, WEIGHTS_FILE
from drqa_ng.reading.manifest import ReaderManifest


def bf16_is_fast(device_type: str) -> bool:
    """Whether bf16 autocast is worth it here: a CUDA GPU, or a CPU with native bf16 instructions
    (AVX-512 BF16 or AMX, as oneDNN reports them / /proc/cpuinfo lists them). On AVX2-only CPUs bf16
    is emulated and slower than fp32."""
    if device_type == "cuda":
        return True
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
    native = any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))
    try:
        onednn = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        onednn = False
    # oneDNN says "supported" on any AVX-512 core (emulated there), so the native flags must agree
    return onednn and native


__all__ = [
    "MODEL_KIND",
    "MODEL_VERSION",
    "TOKENIZER_FILES",
    "WEIGHTS_FILE",
    "SpanModel",
    "init_model",
    "load_model",
    "load_tokenizer",
    "save_model",
]

log = logging.getLogger(__name__)


class SpanModel(nn.Module):
    """``encoder(question [SEP] passage)`` -> hidden states -> ``Linear(hidden, 2)`` -> start, end logits."""

    def __init__(self, encoder: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.qa = nn.Linear(hidden_size, 2)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        logits = self.qa(hidden)
        return logits[..., 0], logits[..., 1]


def _encoder_from_config(config: Any) -> nn.Module:
    from transformers import AutoModel

    try:  # BERT-like encoders: the pooler is unused by a span head, leave it out
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def init_model(base: Path) -> SpanModel:
    """A span model whose encoder starts from the HF encoder folder ``base`` (head randomly initialised)."""
    from transformers import AutoConfig

    base = Path(base)
    if not (base / "config.json").is_file():
        raise NotFoundError(f"no HF encoder (config.json) in {base}")
    config = AutoConfig.from_pretrained(str(base))
    encoder = _encoder_from_config(config)
    weights = base / WEIGHTS_FILE
    if weights.is_file():
        from safetensors.torch import load_file

        state = load_file(str(weights))
        # sentence-transformers checkpoints may prefix keys; keep the encoder's own names
        prefix = next(
            (
                p
                for p in ("bert.", "model.", "encoder.")
                if any(k.startswith(p + "embeddings") for k in state)
            ),
            "",
        )
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        missing, unexpected = encoder.load_state_dict(state, strict=False)
        missing = [k for k in missing if "pooler" not in k]
        if missing:
            raise IndexFormatError(f"{weights}: encoder weights missing {missing[:5]}")
        log.info("initialised encoder from %s (%d unused tensors)", weights, len(unexpected))
    else:
        log.warning("%s has no %s: encoder starts from random weights", base, WEIGHTS_FILE)
    hidden = int(config.hidden_size)
    return SpanModel(encoder, hidden)


def save_model(model: SpanModel, tokenizer_dir: Path, out: Path, **info: Any) -> None:
    """Write a model folder atomically: config, safetensors weights, tokenizer files, manifest (+ ``info``)."""
    from safetensors.torch import save_file

    with atomic_dir(Path(out)) as tmp:
        model.encoder.config.save_pretrained(str(tmp))  # type: ignore[union-attr,operator]
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILE))
        for name in TOKENIZER_FILES:
            if (Path(tokenizer_dir) / name).is_file():
                shutil.copyfile(Path(tokenizer_dir) / name, tmp / name)
        if not (tmp / "tokenizer.json").is_file():
            raise NotFoundError(f"no tokenizer.json in {tokenizer_dir}")
        ReaderManifest.new(MODEL_KIND, **info).save(tmp)


def load_model(folder: Path) -> SpanModel:
    """Load a model folder written by ``save_model`` (fp32, eval mode)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from transformers import AutoConfig

    folder = Path(folder)
    ReaderManifest.load(folder, MODEL_KIND)
    config = AutoConfig.from_pretrained(str(folder))
    model = SpanModel(_encoder_from_config(config), int(config.hidden_size))
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except (SafetensorError, OSError) as e:
        raise IndexFormatError(f"{folder / WEIGHTS_FILE} is corrupt or missing: {e}") from e
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise IndexFormatError(f"{folder / WEIGHTS_FILE} does not match config.json: {e}") from e
    model.eval()
    return model
