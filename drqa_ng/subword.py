"""Subword tokenizers of model folders (Rust ``tokenizers``): loading one and its padding id.

Shared by the reader (``drqa_ng.reading``) and the dense encoder (``drqa_ng.retrieval.encoder``), so
neither package imports the other for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drqa_ng.errors import IndexFormatError, NotFoundError

_PAD_TOKENS = ("[PAD]", "<pad>", "<PAD>")


def load_tokenizer(folder: Path) -> Any:
    """The ``tokenizers.Tokenizer`` of a model folder (its ``tokenizer.json``), truncation and padding off.

    A folder without ``tokenizer.json`` (a Hugging Face checkpoint with only slow-tokenizer files) is
    converted through ``transformers``' fast tokenizer, the one path here that imports it.
    """
    from tokenizers import Tokenizer

    folder = Path(folder)
    path = folder / "tokenizer.json"
    if path.is_file():
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises plain Exception for a malformed file
            raise IndexFormatError(f"{path} is not a tokenizer file: {e}") from e
    elif (folder / "config.json").is_file():
        try:
            from transformers import AutoTokenizer

            hf = AutoTokenizer.from_pretrained(str(folder), use_fast=True, local_files_only=True)
        except (OSError, ValueError) as e:
            raise NotFoundError(f"no usable tokenizer in {folder}: {e}") from e
        if not hasattr(hf, "backend_tokenizer"):
            raise NotFoundError(f"{folder} has no fast tokenizer (tokenizer.json)")
        tok = Tokenizer.from_str(hf.backend_tokenizer.to_str())
    else:
        raise NotFoundError(f"no tokenizer.json in {folder}")
    tok.no_truncation()
    tok.no_padding()
    return tok


def pad_id(tokenizer: Any) -> int:
    """The id of the tokenizer's padding token (0 when it has none): padded slots are masked anyway."""
    for t in _PAD_TOKENS:
        i = tokenizer.token_to_id(t)
        if i is not None:
            return int(i)
    return 0
