"""Reading: a compact extractive span reader (model, windowing, span decoding, training, ONNX int8).

Public entry points: ``load_reader`` (``drqa_ng.reading.reader``) and the ``Reader`` protocol.
Heavy libraries (torch, transformers, onnxruntime) are imported inside functions, never here.
"""

from drqa_ng.protocols import Reader
from drqa_ng.reading.reader import ReaderSettings, SpanReader, load_reader

__all__ = ["Reader", "ReaderSettings", "SpanReader", "load_reader"]
