"""Bring your own reader: any Hugging Face extractive-QA checkpoint (``AutoModelForQuestionAnswering``).

A checkpoint is a folder with ``config.json``, weights and tokenizer files, as ``save_pretrained``
writes it (BERT, RoBERTa, DistilBERT, ELECTRA, DeBERTa, ...), or a hub name such as
``deepset/roberta-base-squad2``. A hub name is looked up in the local Hugging Face cache first and
downloaded only when the user named it (nothing is downloaded by default). It runs on torch
(``qa_module``) or is exported to an int8 ONNX folder with the same code as our own readers
(``onnx_io.export_reader``), so it can then be served without torch.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any

from drqa_ng.errors import NotFoundError
from drqa_ng.index_io import MANIFEST
from drqa_ng.reading.formats import HF_KIND

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
DEFAULT_MAX_LENGTH = 384


def is_checkpoint(folder: Path) -> bool:
    """True for a Hugging Face model folder (``config.json``, no drqa_ng ``manifest.json``)."""
    return (folder / "config.json").is_file() and not (folder / MANIFEST).is_file()


def resolve_checkpoint(path_or_name: str | Path, allow_download: bool = True) -> Path:
    """The local folder of a checkpoint: ``path_or_name`` itself when it is a folder, else a hub name
    resolved from the local Hugging Face cache, then (``allow_download``) from the hub.

    Raises ``NotFoundError`` for a missing path or an unknown/unreachable name.
    """
    p = Path(path_or_name).expanduser()
    if p.exists():
        return p
    name = str(path_or_name)
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or not name.strip():
        raise NotFoundError(f"reader folder not found: {name}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - a transformers dependency
        raise NotFoundError(f"reader folder not found: {name} (huggingface_hub is not installed)") from e
    patterns = ["*.json", "*.txt", "*.model", "*.safetensors", "*.bin"]
    try:
        return Path(snapshot_download(name, local_files_only=True, allow_patterns=patterns))
    except Exception as cached_error:  # huggingface_hub raises many types for "not cached"
        if not allow_download:
            raise NotFoundError(
                f"reader {name!r} is neither a folder nor in the local Hugging Face cache: {cached_error}"
            ) from cached_error
    log.warning("downloading reader %s from the Hugging Face hub", name)
    try:
        # prefer safetensors; .bin only when the repository has no safetensors
        return Path(snapshot_download(name, allow_patterns=patterns))
    except Exception as e:
        raise NotFoundError(
            f"reader {name!r} is not a folder and could not be fetched from the hub: {e}"
        ) from e


def checkpoint_settings(folder: Path) -> dict[str, int]:
    """Window settings for a checkpoint: 384-token windows (stride 128), capped by its position table."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    positions = int(config.get("max_position_embeddings") or DEFAULT_MAX_LENGTH)
    if config.get("model_type") in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # RoBERTa's position ids start at padding_idx + 1
    max_length = min(DEFAULT_MAX_LENGTH, positions)
    return {"max_length": max_length, "stride": min(128, max_length // 3), "max_answer_len": 30}


def load_qa_model(folder: Path) -> Any:
    """The checkpoint as a torch module ``(input_ids, attention_mask, token_type_ids) -> (start, end)``
    in eval mode; ``token_type_ids`` is dropped for models that take none (RoBERTa, DistilBERT)."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    try:
        inner = AutoModelForQuestionAnswering.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as e:
        raise NotFoundError(f"{folder} is not a Hugging Face question-answering checkpoint: {e}") from e
    takes_types = "token_type_ids" in inspect.signature(inner.forward).parameters
    if takes_types and getattr(inner.config, "type_vocab_size", 2) < 2:
        takes_types = False  # RoBERTa accepts the argument but has one token type only

    class QAModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.takes_types = takes_types

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            kwargs = {"token_type_ids": token_type_ids} if self.takes_types else {}
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            return out.start_logits, out.end_logits

    return QAModule().eval()


def describe(folder: Path) -> dict[str, Any]:
    """Manifest fields recorded when a checkpoint is exported: its kind, model type and window settings."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return {"source_kind": HF_KIND, "model_type": config.get("model_type"), **checkpoint_settings(folder)}
