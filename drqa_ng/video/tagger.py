"""A tiny ShuffleNet-style CNN that tags frames cheaply, trained by distillation from a heavy recogniser.

Architecture after ShuffleNet v1 (Zhang et al., 2018, "ShuffleNet: An Extremely Efficient
Convolutional Neural Network for Mobile Devices"): each unit is pointwise GROUP conv -> channel
shuffle -> depthwise 3x3 -> pointwise group conv; stride-1 units add the input, stride-2 units
concatenate an average-pooled copy of it. Only Conv/BN/ReLU/AvgPool/Linear, so BatchNorm folds
into the convolutions (``fold_batchnorm``) and the net is int8-friendly. Weights are stored as
safetensors (no pickle) with the config in the metadata.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from drqa_ng.errors import IndexFormatError, NotFoundError

log = logging.getLogger(__name__)

DEFAULT_TAGS: tuple[str, ...] = ("face", "person", "text")
TAG_WORDS: dict[str, str] = {"face": "face", "person": "person people", "text": "text writing"}
"""Human words added to a segment's text next to ``tag_<name>`` so plain questions match tags."""


@dataclass(frozen=True, slots=True)
class TaggerConfig:
    """Shape of the network: input side in pixels, groups, stage widths and unit repeats, tag names."""

    tags: tuple[str, ...] = DEFAULT_TAGS
    input_size: int = 96
    groups: int = 3
    stem: int = 24
    widths: tuple[int, ...] = (120, 240, 480)
    repeats: tuple[int, ...] = (2, 4, 2)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave channels across groups: (N, g*c, H, W) -> view (N, g, c) -> transpose -> (N, c*g, H, W).

    With 6 channels and 2 groups the order becomes [0, 3, 1, 4, 2, 5], so the next group conv
    sees channels from every group (ShuffleNet v1, section 3.1).
    """
    n, ch, h, w = x.shape
    if ch % groups:
        raise ValueError(f"{ch} channels do not split into {groups} groups")
    return x.view(n, groups, ch // groups, h, w).transpose(1, 2).reshape(n, ch, h, w)


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)


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


class ShuffleUnit(nn.Module):
    """One ShuffleNet v1 unit; ``stride=2`` halves the size and concatenates a pooled shortcut."""

    def __init__(
        self, cin: int, cout: int, groups: int, stride: int, first_groups: int | None = None
    ) -> None:
        super().__init__()
        self.stride = stride
        branch_out = cout - cin if stride == 2 else cout
        mid = max(groups, (cout // 4) // groups * groups)
        g1 = groups if first_groups is None else first_groups
        self.branch = nn.Sequential(
            _conv_bn(cin, mid, 1, groups=g1),
            ChannelShuffle(g1) if g1 > 1 else nn.Identity(),
            _conv_bn(mid, mid, 3, stride=stride, groups=mid, relu=False),
            _conv_bn(mid, branch_out, 1, groups=groups, relu=False),
        )
        self.pool = nn.AvgPool2d(3, 2, 1) if stride == 2 else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch(x)
        if self.pool is not None:
            return self.relu(torch.cat([self.pool(x), y], dim=1))
        return self.relu(x + y)


class TinyTagger(nn.Module):
    """Frames (N, 3, S, S) float in [0, 1] -> tag logits (N, len(tags))."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: TaggerConfig = TaggerConfig()) -> None:
        super().__init__()
        self.config = config
        g = config.groups
        layers: list[nn.Module] = [_conv_bn(3, config.stem, 3, stride=2), nn.MaxPool2d(3, 2, 1)]
        cin = config.stem
        for stage, (width, reps) in enumerate(zip(config.widths, config.repeats, strict=True)):
            for r in range(reps):
                stride = 2 if r == 0 else 1
                # As in the paper, the very first pointwise conv is not grouped (the stem is narrow).
                first = 1 if stage == 0 and r == 0 else None
                layers.append(ShuffleUnit(cin, width, g, stride, first_groups=first))
                cin = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, len(config.tags))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = self.features(x)
        return self.head(x.mean(dim=(2, 3)))


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fold_batchnorm(model: TinyTagger) -> TinyTagger:
    """Fold every Conv2d+BatchNorm2d pair into one biased Conv2d (eval-mode maths, in place).

    ``w' = w * gamma / sqrt(var + eps)``, ``b' = beta + (b - mean) * gamma / sqrt(var + eps)``
    (Jacob et al., 2018, "Quantization and Training of Neural Networks for Efficient
    Integer-Arithmetic-Only Inference", section 3.2). The result has only Conv/ReLU/Pool/Linear.
    """
    model.eval()
    for mod in model.modules():
        if isinstance(mod, nn.Sequential) and len(mod) >= 2:
            conv, bn = mod[0], mod[1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                if bn.running_var is None or bn.running_mean is None:
                    raise ValueError("cannot fold a BatchNorm without running statistics")
                scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
                bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
                fused = nn.Conv2d(
                    conv.in_channels,
                    conv.out_channels,
                    conv.kernel_size,  # type: ignore[arg-type]
                    conv.stride,  # type: ignore[arg-type]
                    conv.padding,  # type: ignore[arg-type]
                    groups=conv.groups,
                    bias=True,
                )
                with torch.no_grad():
                    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
                    fused.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)  # type: ignore[union-attr]
                mod[0] = fused
                mod[1] = nn.Identity()
    return model


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op threads (restored after).

    The tagger's convolutions are tiny: extra threads buy nothing and, on a busy machine,
    thread contention made a training step 20x slower in our measurements.
    """
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def preprocess(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """RGB uint8 frames of any size -> float tensor (N, 3, size, size) in [0, 1] (area resize, no crop)."""
    import cv2  # lazy

    arr = np.stack([cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) for img in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


class TaggerShape(Protocol):
    """What callers read from a tagger's config: its tag names and input side."""

    @property
    def tags(self) -> tuple[str, ...]: ...

    @property
    def input_size(self) -> int: ...


class FrameTagger(Protocol):
    """A tagger module: ``TinyTagger`` or ``nas.SearchedTagger``."""

    @property
    def config(self) -> TaggerShape: ...

    def eval(self) -> Any: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


def tag_probs(
    model: FrameTagger, images: Sequence[np.ndarray], batch_size: int = 64, num_threads: int | None = 1
) -> np.ndarray:
    """Sigmoid tag probabilities, float32 (N, n_tags); batches of ``batch_size`` in inference mode.

    ``model``: ``TinyTagger`` or ``nas.SearchedTagger``."""
    model.eval()
    config = model.config
    out = np.zeros((len(images), len(config.tags)), dtype=np.float32)
    with _torch_threads(num_threads), torch.inference_mode():
        for a in range(0, len(images), batch_size):
            x = preprocess(images[a : a + batch_size], config.input_size)
            out[a : a + len(x)] = torch.sigmoid(model(x)).numpy()
    return out


def train_distilled(
    images: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    config: TaggerConfig = TaggerConfig(),
    epochs: int = 30,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    num_threads: int | None = 1,
) -> TinyTagger:
    """Fit a fresh TinyTagger to the teacher's multi-hot labels ``targets`` (N, n_tags) with BCE.

    Loss: ``-mean(y log sigma(z) + (1 - y) log(1 - sigma(z)))``, positives up-weighted by
    ``neg/pos`` per tag (capped at 10) because most frames carry no tag. Random horizontal flips
    are the only augmentation (tags are flip-invariant; text is still "text" mirrored).
    """
    if len(images) != len(targets):
        raise ValueError("images and targets differ in length")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # seeded init without touching the caller's global RNG
        torch.manual_seed(seed)
        model = TinyTagger(config)
    if len(images) == 0:
        log.warning("no frames to distil from; the tagger stays untrained")
        return model.eval()
    x_all = preprocess(images, config.input_size)
    y_all = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    pos = y_all.sum(0)
    pos_weight = ((len(y_all) - pos) / pos.clamp(min=1.0)).clamp(1.0, 10.0)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    with _torch_threads(num_threads):
        _fit(model, x_all, y_all, loss_fn, epochs=epochs, lr=lr, batch_size=batch_size, gen=gen)
    return model.eval()


def _fit(
    model: TinyTagger,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    loss_fn: nn.Module,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    gen: torch.Generator,
) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x_all), generator=gen)
        total = 0.0
        for a in range(0, len(perm), batch_size):
            idx = perm[a : a + batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples in training mode
                continue
            xb = x_all[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(-1)
            loss = loss_fn(model(xb), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        log.info("tagger epoch %d/%d: BCE %.4f", epoch + 1, epochs, total / len(perm))


def shipped_tagger_path() -> Path:
    """The small tagger shipped in the package (a ``SearchedTagger``: load it with
    ``drqa_ng.video.taggers.load_any_tagger``; see weights/README.md)."""
    return Path(__file__).resolve().parent / "weights" / "tagger.safetensors"


def save_tagger(model: TinyTagger, path: Path) -> None:
    """Write weights as safetensors with the config (JSON) in the metadata."""
    from safetensors.torch import save_file

    cfg = model.config
    meta = {
        "config": json.dumps(
            {
                "tags": list(cfg.tags),
                "input_size": cfg.input_size,
                "groups": cfg.groups,
                "stem": cfg.stem,
                "widths": list(cfg.widths),
                "repeats": list(cfg.repeats),
            }
        )
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata=meta)


def load_tagger(path: Path) -> TinyTagger:
    """Read weights written by ``save_tagger``; NotFoundError / IndexFormatError on a missing or bad file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"tagger weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        raw = json.loads(meta["config"])
        cfg = TaggerConfig(
            tags=tuple(raw["tags"]),
            input_size=int(raw["input_size"]),
            groups=int(raw["groups"]),
            stem=int(raw["stem"]),
            widths=tuple(raw["widths"]),
            repeats=tuple(raw["repeats"]),
        )
        model = TinyTagger(cfg)
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, KeyError, ValueError, RuntimeError, OSError) as e:
        raise IndexFormatError(f"{path}: not a drqa-ng tagger weights file ({e})") from e
    return model.eval()
