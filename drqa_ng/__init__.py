"""drqa_ng: open-domain question answering that runs on one small machine."""

__version__ = "0.1.0"
