"""Average the weights of reader model folders of one architecture (a "model soup").

    python scripts/average_readers.py OUT RUN/student-mp6/model RUN/student-mp6/last
    python scripts/average_readers.py OUT A B --weights 0.5 0.5

Every parameter of OUT is the weighted mean of the same parameter in the inputs,

    θ_out = Σ_i w_i θ_i / Σ_i w_i        (default w_i = 1: the plain mean)

which is meaningful for models fine-tuned from one starting point (checkpoints of one run, or runs
continued from one checkpoint): Izmailov et al. 2018 (SWA) and Wortsman et al. 2022 ("Model soups")
average such weights and often beat each of them. OUT is a ``reader-model`` folder (tokenizer,
``max_length``/``stride``/``max_answer_len`` and the recipe fields of the first input; ``averaged_from``
names the inputs and weights) that ``export-reader`` and ``eval-reader`` take. The 6-layer MPNet
reader of docs/reader.md (seventh session) is
``average_readers.py AVG RUN/student-mp6/model RUN/student-mp6/last`` then
``average_readers.py SOUP AVG RUN/student-mp6sn/last``.

Inputs of different architectures (parameter names or shapes differ) are refused.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from drqa_ng.errors import DrqaError, InputError
from drqa_ng.reading.manifest import ReaderManifest
from drqa_ng.reading.model import MODEL_KIND, load_model, save_model

M = TypeVar("M", bound=nn.Module)


def average_into(models: Sequence[M], weights: Sequence[float]) -> M:
    """``models[0]`` with every floating-point parameter and buffer replaced by the weighted mean over
    ``models`` (others, e.g. integer position ids, are kept from ``models[0]``)."""
    if len(models) < 2 or len(weights) != len(models):
        raise InputError(f"need two or more models and one weight each, got {len(models)} and {len(weights)}")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    states = [m.state_dict() for m in models]
    first = states[0]
    for i, st in enumerate(states[1:], 1):
        if st.keys() != first.keys() or any(st[k].shape != first[k].shape for k in first):
            raise InputError(f"model {i} has other parameters than model 0: not one architecture")
    total = float(sum(weights))
    out = {}
    for k, v in first.items():
        if v.is_floating_point():
            acc = torch.zeros_like(v, dtype=torch.float64)
            for w, st in zip(weights, states, strict=True):
                acc += (w / total) * st[k].to(torch.float64)
            out[k] = acc.to(v.dtype)
        else:
            out[k] = v
    models[0].load_state_dict(out)
    return models[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("models", type=Path, nargs="+", help="reader-model folders (two or more)")
    ap.add_argument("--weights", type=float, nargs="+", help="one per model (default: equal)")
    args = ap.parse_args()
    weights = args.weights or [1.0] * len(args.models)
    try:
        models = [load_model(m) for m in args.models]
        avg = average_into(models, weights)
    except DrqaError as e:
        raise SystemExit(f"average_readers: {e}") from None
    info = ReaderManifest.load(args.models[0], MODEL_KIND).to_json()
    keep = ("max_length", "stride", "max_answer_len", "base_encoder", "precision")
    carry = {k: info[k] for k in keep if k in info}
    sources = [{"folder": str(m), "weight": w} for m, w in zip(args.models, weights, strict=True)]
    save_model(avg, args.models[0], args.out, averaged_from=sources, **carry)
    print(f"{args.out}: weighted mean of {len(models)} models ({', '.join(f'{w:g}' for w in weights)})")


if __name__ == "__main__":
    main()
