"""Keep some transformer layers of a reader model folder: the starting point of a shallower student.

    python scripts/prune_reader.py RUN/teacher/model RUN/mpnet6-init --layers 0,2,4,6,8,10

Reads a ``reader-model`` folder (``drqa_ng.reading.model``), keeps the listed encoder layers in that
order (embeddings, the relative-position bias and the span head are kept whole) and writes a model
folder ``train-reader --base`` takes. The 6-layer MPNet student of docs/reader.md started from the
step-700 teacher's even layers: before any training they score F1 19.0 on 150 part-A validation
questions against 13.6 for the odd ones and 9.2 for 0,2,4,7,9,11 (``drqa-ng eval-reader OUT --limit``).

transformers has no layer-dropping call (``prune_heads`` removes attention heads only), so this slices
the encoder's ``ModuleList`` and lowers ``num_hidden_layers`` to match.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from torch import nn

from drqa_ng.errors import DrqaError, InputError
from drqa_ng.reading.manifest import ReaderManifest
from drqa_ng.reading.model import MODEL_KIND, load_model, save_model


def prune_layers(model: nn.Module, keep: list[int]) -> int:
    """Keep ``keep`` (indices into the encoder's layer list, in that order); returns the layers before."""
    encoder = getattr(model, "encoder", None)
    stack = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(stack, nn.ModuleList):
        raise InputError("the model's encoder has no encoder.layer list to prune")
    n = len(stack)
    if not keep or len(set(keep)) != len(keep) or min(keep) < 0 or max(keep) >= n:
        raise InputError(f"--layers must be distinct indices in 0..{n - 1}, got {keep}")
    encoder.encoder.layer = nn.ModuleList(stack[i] for i in keep)  # type: ignore[union-attr]
    encoder.config.num_hidden_layers = len(keep)  # type: ignore[union-attr]
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path, help="reader-model folder (e.g. RUN/teacher/model)")
    ap.add_argument("out", type=Path)
    ap.add_argument(
        "--layers", required=True, help="comma-separated layer indices to keep, e.g. 0,2,4,6,8,10"
    )
    args = ap.parse_args()
    try:
        keep = [int(x) for x in args.layers.split(",") if x.strip()]
        model = load_model(args.model)
        before = prune_layers(model, keep)
    except (DrqaError, ValueError) as e:
        raise SystemExit(f"prune_reader: {e}") from None
    info = ReaderManifest.load(args.model, MODEL_KIND).to_json()
    carry = {k: info[k] for k in ("max_length", "stride", "max_answer_len") if k in info}
    save_model(model, args.model, args.out, pruned_from=str(args.model), kept_layers=keep, **carry)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: {len(keep)} of {before} layers kept ({keep}), {params / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
