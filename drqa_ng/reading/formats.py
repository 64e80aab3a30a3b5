"""Kinds and file names of reader folders, importable without torch (the ONNX path must start fast).

- ``reader-model``: a model trained here (``model.py``: config, safetensors, tokenizer, manifest);
- ``reader-onnx``: an exported ONNX folder (``onnx_io.py``);
- ``hf-qa``: any Hugging Face extractive-QA checkpoint (``AutoModelForQuestionAnswering``): a folder
  with ``config.json`` and weights but no ``manifest.json`` (``hf.py``).
"""

from __future__ import annotations

MODEL_KIND = "reader-model"
MODEL_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
HF_KIND = "hf-qa"
ONNX_KIND = "reader-onnx"
ONNX_VERSION = 1
FP32_COMPUTE = ("none", "ffn", "all")
"""``export-reader --fp32-compute``: which MatMuls keep int8 weights but run in fp32 arithmetic
(``onnx_io.quantize_int8``)."""
