"""The frame tagger's search space: ShuffleNet units chosen by differentiable search under a latency budget.

Skeleton: stem (3x3 conv, stride 2, 24 channels) + max-pool, then three stages of three units each
(unit 0 strides by 2, units 1 and 2 keep the size), global average pool, linear head over the tags.
Each unit is a ShuffleNet v1 unit (pointwise group conv -> channel shuffle -> depthwise k x k ->
pointwise group conv; stride 1 adds the input, stride 2 does not concatenate a pooled copy here, so
widths can be searched freely). What is searched:

- per unit, its operation: group count 2 or 3 × depthwise kernel 3 or 5, or ``skip`` (identity,
  stride-1 units only): ``OPS``;
- per stage, its width: ``WIDTH_MULTS`` × ``BASE_WIDTHS``.

The supernet (``SuperNet``) is DARTS's continuous relaxation (Liu et al., 2019, "DARTS:
Differentiable Architecture Search"): every unit position holds all its candidate operations and
outputs ``sum_i softmax(alpha)_i * op_i(x)``; widths are relaxed as in FBNetV2 (Wan et al., 2020):
every op runs at the stage's widest width and the output is multiplied by the mask
``sum_j softmax(beta)_j * 1[c < width_j]``. The latency term is FBNet's (Wu et al., 2019): a
per-operation latency table measured on this machine (``measure_latency_table``) gives the
expected latency

    E[lat] = const + sum_units sum_i p_i * sum_{a,b} q_in(a) * q_out(b) * T[stage, op_i, a, b]

(``p`` = softmax(alpha) of the unit, ``q`` = softmax(beta) of the widths before and after it),
differentiable in alpha and beta. ``discretise`` keeps the strongest op per unit and width per stage
(argmax), giving an ``Arch`` that ``SearchedTagger`` builds at its real widths. Partial-channel
sampling (PC-DARTS) is not needed: the supernet is small enough for memory at 96 x 96 input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.video.tagger import DEFAULT_TAGS, ChannelShuffle

STEM = 24
BASE_WIDTHS: tuple[int, ...] = (96, 192, 384)
WIDTH_MULTS: tuple[float, ...] = (0.5, 0.75, 1.0)
UNITS_PER_STAGE = 3
OPS: tuple[str, ...] = ("skip", "g2k3", "g2k5", "g3k3", "g3k5")
"""Candidate operations of a unit: ``gGkK`` = ShuffleNet unit with G groups and a K x K depthwise conv."""
SEARCHED_KIND = "drqa-ng-searched-tagger"


def op_params(op: str) -> tuple[int, int]:
    """(groups, kernel) of a unit op name such as ``g3k5``."""
    if len(op) != 4 or op[0] != "g" or op[2] != "k":
        raise ValueError(f"not a unit op: {op!r}")
    return int(op[1]), int(op[3])


def stage_widths(stage: int) -> tuple[int, ...]:
    """The candidate widths of a stage (all multiples of 12, so groups 2 and 3 always divide them)."""
    return tuple(round(BASE_WIDTHS[stage] * m / 12) * 12 for m in WIDTH_MULTS)


def unit_ops(unit: int) -> tuple[str, ...]:
    """Candidate ops at a unit position: no ``skip`` for the striding unit 0."""
    return OPS[1:] if unit == 0 else OPS


@dataclass(frozen=True, slots=True)
class Arch:
    """A discrete tagger: one op per unit (stage-major), one width per stage, the tags and input size."""

    ops: tuple[str, ...]
    widths: tuple[int, ...]
    tags: tuple[str, ...] = DEFAULT_TAGS
    input_size: int = 96

    def to_json(self) -> str:
        return json.dumps(
            {
                "ops": list(self.ops),
                "widths": list(self.widths),
                "tags": list(self.tags),
                "input_size": self.input_size,
            }
        )

    @staticmethod
    def from_json(text: str) -> Arch:
        d = json.loads(text)
        return Arch(
            tuple(d["ops"]), tuple(int(w) for w in d["widths"]), tuple(d["tags"]), int(d["input_size"])
        )

    @property
    def name(self) -> str:
        return "/".join(
            f"{w}:" + ",".join(self.ops[s * UNITS_PER_STAGE : (s + 1) * UNITS_PER_STAGE])
            for s, w in enumerate(self.widths)
        )


def _conv_bn(
    cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, relu: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Unit(nn.Module):
    """ShuffleNet v1 unit with ``groups`` and a ``kernel`` x ``kernel`` depthwise conv; stride 1 is residual."""

    def __init__(
        self, cin: int, cout: int, groups: int, kernel: int, stride: int, first_groups: int | None = None
    ) -> None:
        super().__init__()
        mid = max(groups, (cout // 4) // groups * groups)
        g1 = groups if first_groups is None else first_groups
        self.residual = stride == 1 and cin == cout
        self.branch = nn.Sequential(
            _conv_bn(cin, mid, 1, groups=g1),
            ChannelShuffle(g1) if g1 > 1 else nn.Identity(),
            _conv_bn(mid, mid, kernel, stride=stride, groups=mid, relu=False),
            _conv_bn(mid, cout, 1, groups=groups, relu=False),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch(x)
        return self.relu(x + y) if self.residual else self.relu(y)


def make_op(op: str, cin: int, cout: int, stride: int, first: bool) -> nn.Module:
    """One candidate op as a module (``skip`` = identity)."""
    if op == "skip":
        return nn.Identity()
    g, k = op_params(op)
    return Unit(cin, cout, g, k, stride, first_groups=1 if first else None)


class _Net(nn.Module):
    mean: torch.Tensor
    std: torch.Tensor

    def _buffers_init(self) -> None:
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))


@dataclass(frozen=True, slots=True)
class SearchedConfig:
    """What ``tag_probs``-style callers read from a tagger: its tags and input side."""

    tags: tuple[str, ...]
    input_size: int


class SearchedTagger(_Net):
    """The discrete net of an ``Arch``: frames (N, 3, S, S) in [0, 1] -> tag logits (N, tags)."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.arch = arch
        self.config = SearchedConfig(arch.tags, arch.input_size)
        layers: list[nn.Module] = [_conv_bn(3, STEM, 3, stride=2), nn.MaxPool2d(3, 2, 1)]
        cin = STEM
        for s, width in enumerate(arch.widths):
            for u in range(UNITS_PER_STAGE):
                op = arch.ops[s * UNITS_PER_STAGE + u]
                layers.append(make_op(op, cin, width, 2 if u == 0 else 1, first=s == 0 and u == 0))
                cin = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, len(arch.tags))
        self._buffers_init()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features((x - self.mean) / self.std)
        return self.head(x.mean(dim=(2, 3)))


class MixedOp(nn.Module):
    """DARTS mixed op: ``sum_i w_i * op_i(x)`` for the weights ``w`` (a softmax) handed to ``forward``."""

    def __init__(self, ops: Sequence[str], cin: int, cout: int, stride: int, first: bool) -> None:
        super().__init__()
        self.names = tuple(ops)
        self.ops = nn.ModuleList(make_op(op, cin, cout, stride, first) for op in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum((w * op(x) for w, op in zip(weights, self.ops, strict=True)), torch.zeros(()))


def width_masks(widths: Sequence[int]) -> torch.Tensor:
    """(len(widths), max width) 0/1 masks: row j keeps the first ``widths[j]`` channels."""
    c = max(widths)
    return torch.stack([(torch.arange(c) < w).float() for w in widths])


class SuperNet(_Net):
    """All candidate ops at every unit and all widths of every stage, weighted by ``alpha`` / ``beta``."""

    def __init__(self, tags: Sequence[str] = DEFAULT_TAGS, input_size: int = 96) -> None:
        super().__init__()
        self.tags = tuple(tags)
        self.input_size = input_size
        self.stem = nn.Sequential(_conv_bn(3, STEM, 3, stride=2), nn.MaxPool2d(3, 2, 1))
        self.units = nn.ModuleList()
        self.unit_names: list[tuple[str, ...]] = []
        cin = STEM
        for s in range(len(BASE_WIDTHS)):
            cmax = max(stage_widths(s))
            for u in range(UNITS_PER_STAGE):
                ops = unit_ops(u)
                self.units.append(MixedOp(ops, cin, cmax, 2 if u == 0 else 1, first=s == 0 and u == 0))
                self.unit_names.append(ops)
                cin = cmax
            self.register_buffer(f"masks{s}", width_masks(stage_widths(s)))
        self.head = nn.Linear(cin, len(self.tags))
        self.alpha = nn.ParameterList(nn.Parameter(1e-3 * torch.randn(len(n))) for n in self.unit_names)
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(len(WIDTH_MULTS))) for _ in BASE_WIDTHS)
        self._buffers_init()

    def arch_parameters(self) -> list[nn.Parameter]:
        return [*self.alpha, *self.beta]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem((x - self.mean) / self.std)
        for s in range(len(BASE_WIDTHS)):
            mask = (torch.softmax(self.beta[s], 0) @ getattr(self, f"masks{s}")).view(1, -1, 1, 1)
            for u in range(UNITS_PER_STAGE):
                i = s * UNITS_PER_STAGE + u
                x = self.units[i](x, torch.softmax(self.alpha[i], 0)) * mask
        return self.head(x.mean(dim=(2, 3)))


@dataclass(frozen=True, slots=True)
class LatencyTable:
    """Measured milliseconds per frame: ``const`` (stem, pool, head); ``down[stage][op][a][b]`` for the
    striding unit of ``stage`` from input width index ``a`` (stage 0: the stem, index 0 only) to output
    width index ``b``; ``keep[stage][op][b]`` for a stride-1 unit at width index ``b``. ``batch``
    frames per timed call, ``threads`` torch threads."""

    const: float
    down: dict[int, dict[str, list[list[float]]]]
    keep: dict[int, dict[str, list[float]]]
    batch: int
    threads: int

    def to_dict(self) -> dict[str, object]:
        return {
            "const": self.const,
            "down": {str(k): v for k, v in self.down.items()},
            "keep": {str(k): v for k, v in self.keep.items()},
            "batch": self.batch,
            "threads": self.threads,
        }

    @staticmethod
    def from_dict(d: dict[str, object]) -> LatencyTable:
        down, keep = d["down"], d["keep"]
        if not isinstance(down, dict) or not isinstance(keep, dict):
            raise IndexFormatError("latency table: 'down' and 'keep' must be objects")
        return LatencyTable(
            float(d["const"]),  # type: ignore[arg-type]
            {int(k): v for k, v in down.items()},
            {int(k): v for k, v in keep.items()},
            int(d["batch"]),  # type: ignore[call-overload]
            int(d["threads"]),  # type: ignore[call-overload]
        )


def time_module(module: nn.Module, x: torch.Tensor, reps: int = 5) -> float:
    """Median milliseconds per frame of ``module(x)`` in inference mode over ``reps`` timed calls."""
    module.eval()
    times = []
    with torch.inference_mode():
        module(x)
        for _ in range(reps):
            t0 = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times)) / len(x)


def measure_latency_table(
    input_size: int = 96, batch: int = 16, threads: int = 1, reps: int = 5
) -> LatencyTable:
    """Time every (stage, op, width in, width out) unit once on this machine, fp32 (the tagger runs
    fp32; int8 would need a quantised runtime for grouped and depthwise convs, not used here)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        stem = nn.Sequential(_conv_bn(3, STEM, 3, stride=2), nn.MaxPool2d(3, 2, 1))
        const = time_module(stem, torch.rand(batch, 3, input_size, input_size, generator=gen), reps)
        down: dict[int, dict[str, list[list[float]]]] = {}
        keep: dict[int, dict[str, list[float]]] = {}
        side = input_size // 4  # after the stem and its pool
        for s in range(len(BASE_WIDTHS)):
            ins = (STEM,) if s == 0 else stage_widths(s - 1)
            outs = stage_widths(s)
            down[s], keep[s] = {}, {}
            for op in OPS[1:]:
                down[s][op] = [
                    [
                        time_module(
                            make_op(op, cin, cout, 2, first=s == 0),
                            torch.rand(batch, cin, side, side, generator=gen),
                            reps,
                        )
                        for cout in outs
                    ]
                    for cin in ins
                ]
                small = max(1, (side + 1) // 2)
                keep[s][op] = [
                    time_module(
                        make_op(op, c, c, 1, first=False),
                        torch.rand(batch, c, small, small, generator=gen),
                        reps,
                    )
                    for c in outs
                ]
            side = max(1, (side + 1) // 2)
        head = nn.Linear(max(stage_widths(len(BASE_WIDTHS) - 1)), len(DEFAULT_TAGS))
        const += time_module(head, torch.rand(batch, head.in_features, generator=gen), reps)
        return LatencyTable(const, down, keep, batch, threads)
    finally:
        torch.set_num_threads(old)


def expected_latency(net: SuperNet, table: LatencyTable) -> torch.Tensor:
    """E[lat] in ms per frame (module docstring formula), differentiable in ``alpha`` and ``beta``."""
    total = torch.tensor(table.const)
    q_prev = torch.ones(1)
    for s in range(len(BASE_WIDTHS)):
        q = torch.softmax(net.beta[s], 0)
        for u in range(UNITS_PER_STAGE):
            i = s * UNITS_PER_STAGE + u
            p = torch.softmax(net.alpha[i], 0)
            for w, op in zip(p, net.unit_names[i], strict=True):
                if op == "skip":
                    continue
                if u == 0:
                    total = total + w * (q_prev @ torch.tensor(table.down[s][op]) @ q)
                else:
                    total = total + w * (torch.tensor(table.keep[s][op]) @ q)
        q_prev = q
    return total


def discretise(net: SuperNet) -> Arch:
    """Keep the strongest op per unit and the strongest width per stage (argmax of alpha / beta)."""
    ops = tuple(
        names[int(torch.argmax(a.detach()))] for a, names in zip(net.alpha, net.unit_names, strict=True)
    )
    widths = tuple(stage_widths(s)[int(torch.argmax(b.detach()))] for s, b in enumerate(net.beta))
    return Arch(ops, widths, net.tags, net.input_size)


def arch_latency(arch: Arch, table: LatencyTable) -> float:
    """The table's latency (ms per frame) of a discrete architecture."""
    total = table.const
    for s, w in enumerate(arch.widths):
        b = stage_widths(s).index(w)
        a = 0 if s == 0 else stage_widths(s - 1).index(arch.widths[s - 1])
        for u in range(UNITS_PER_STAGE):
            op = arch.ops[s * UNITS_PER_STAGE + u]
            if op != "skip":
                total += table.down[s][op][a][b] if u == 0 else table.keep[s][op][b]
    return float(total)


def save_searched(model: SearchedTagger, path: Path) -> None:
    """Safetensors weights with the architecture (JSON) in the metadata; no pickle."""
    from safetensors.torch import save_file

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    meta = {"kind": SEARCHED_KIND, "arch": model.arch.to_json()}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata=meta)


def load_searched(path: Path) -> SearchedTagger:
    """Read ``save_searched``'s file; NotFoundError / IndexFormatError on a missing or bad file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"tagger weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if meta.get("kind") != SEARCHED_KIND:
            raise ValueError(f"kind {meta.get('kind')!r}, expected {SEARCHED_KIND!r}")
        model = SearchedTagger(Arch.from_json(meta["arch"]))
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, KeyError, ValueError, RuntimeError, OSError) as e:
        raise IndexFormatError(f"{path}: not a searched tagger weights file ({e})") from e
    return model.eval()
