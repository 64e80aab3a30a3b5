"""The resumable state of a training run: ``RUN/ckpt/``, written atomically, no pickle.

A checkpoint folder (``kind = "reader-train-state"``) holds

- ``model.safetensors``: every model tensor;
- ``optimizer.safetensors``: the optimizer's per-parameter tensors, keyed ``"{param index}.{name}"``
  (AdamW: ``step``, ``exp_avg``, ``exp_avg_sq``), plus ``torch_rng`` (the CPU generator's state);
- ``manifest.json``: the loop position (step, epoch, batch index in the epoch), the optimizer's
  param-group settings, the scheduler's state, Python's and numpy's global RNG states and any
  ``extra`` fields (best dev F1 so far, running loss).

Everything a run needs to continue exactly where it stopped: the data order of an epoch is a pure
function of (seed, epoch), so the position within it is two integers.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import IndexFormatError, InputError
from drqa_ng.index_io import MANIFEST, atomic_dir, read_manifest, write_manifest

STATE_KIND = "reader-train-state"
STATE_VERSION = 1
MODEL_FILE = "model.safetensors"
OPTIM_FILE = "optimizer.safetensors"


@dataclass(frozen=True, slots=True)
class LoopPosition:
    """Where the loop stands: ``step`` optimizer steps done; the next batch is ``batch`` of ``epoch``."""

    step: int
    epoch: int
    batch: int


def _json_scalar(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_json_scalar(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_scalar(x) for k, x in v.items()}
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:  # a 0-d torch tensor
        return v.item()
    return v


def save_state(
    folder: Path,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    pos: LoopPosition,
    **extra: Any,
) -> None:
    """Write the training state to ``folder`` in one rename (a crash keeps the previous one)."""
    import torch
    from safetensors.torch import save_file

    with atomic_dir(Path(folder)) as tmp:
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp / MODEL_FILE)
        )
        opt = optimizer.state_dict()
        tensors: dict[str, Any] = {"torch_rng": torch.get_rng_state()}
        scalars: dict[str, Any] = {}
        for idx, st in opt["state"].items():
            for name, value in st.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{idx}.{name}"] = value.detach().contiguous().cpu()
                else:
                    scalars[f"{idx}.{name}"] = value
        save_file(tensors, str(tmp / OPTIM_FILE))
        np_state: Any = np.random.get_state()
        write_manifest(
            tmp,
            STATE_KIND,
            STATE_VERSION,
            position={"step": pos.step, "epoch": pos.epoch, "batch": pos.batch},
            param_groups=_json_scalar(opt["param_groups"]),
            optimizer_scalars=_json_scalar(scalars),
            scheduler=_json_scalar({k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}),
            python_rng=_json_scalar(random.getstate()),
            numpy_rng={
                "kind": np_state[0],
                "keys": np_state[1].tolist(),
                "pos": int(np_state[2]),
                "has_gauss": int(np_state[3]),
                "cached_gaussian": float(np_state[4]),
            },
            extra=_json_scalar(extra),
        )


def has_state(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def load_state(
    folder: Path, model: Any, optimizer: Any, scheduler: Any
) -> tuple[LoopPosition, dict[str, Any]]:
    """Restore model, optimizer, scheduler and the global RNGs from ``folder``; returns (position, extra)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    m = read_manifest(folder, STATE_KIND, STATE_VERSION)
    try:
        model.load_state_dict(load_file(str(folder / MODEL_FILE)))
        tensors = load_file(str(folder / OPTIM_FILE))
    except (SafetensorError, OSError, RuntimeError) as e:
        raise IndexFormatError(f"{folder}: training state is corrupt or does not match the model: {e}") from e
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key == "torch_rng":
            continue
        idx, name = key.split(".", 1)
        per_param.setdefault(int(idx), {})[name] = value
    for key, value in m["optimizer_scalars"].items():
        idx, name = key.split(".", 1)
        per_param.setdefault(int(idx), {})[name] = value
    groups = m["param_groups"]
    for g in groups:  # JSON turned tuples into lists; torch compares betas as given
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    scheduler.load_state_dict({**m["scheduler"], "lr_lambdas": [None] * len(groups)})
    torch.set_rng_state(tensors["torch_rng"])
    py = m["python_rng"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npr = m["numpy_rng"]
    np.random.set_state(
        (
            npr["kind"],
            np.asarray(npr["keys"], dtype=np.uint32),
            npr["pos"],
            npr["has_gauss"],
            npr["cached_gaussian"],
        )
    )
    p = m["position"]
    return LoopPosition(int(p["step"]), int(p["epoch"]), int(p["batch"])), dict(m.get("extra") or {})


def read_extra(folder: Path) -> dict[str, Any]:
    """The ``extra`` fields of a checkpoint without loading tensors."""
    return dict(read_manifest(folder, STATE_KIND, STATE_VERSION).get("extra") or {})


def lock_run(out: Path) -> Any:
    """An exclusive lock on the run folder (``RUN/.lock``), released when the returned file closes.

    Two processes training into one folder would overwrite each other's checkpoints.
    """
    import fcntl

    f = open(out / ".lock", "w")  # noqa: SIM115 - held open for the whole run
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        f.close()
        raise InputError(f"{out} is being trained by another process (locked)") from e
    return f


def truncate_log(path: Path, step: int) -> None:
    """Drop log lines past ``step`` (written after the checkpoint a resumed run restarts from)."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            continue
        if int(rec.get("step", 0)) <= step:
            keep.append(line)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(x + "\n" for x in keep), encoding="utf-8")
    tmp.replace(path)
