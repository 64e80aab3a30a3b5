"""``drqa-ng search-tagger``: search -> discretise -> retrain -> export a frame tagger under a latency budget.

1. Frames sampled from the videos and labelled by the heavy recogniser (``indexing.tagger_data``),
   split by video into train and validation.
2. Latency table measured once on this machine (``drqa_ng.video.nas.measure_latency_table``),
   cached in OUT.
3. For each latency weight ``lam``: first-order DARTS on the supernet. The train frames are split in
   two halves; each step updates the weights on one half with the BCE loss and the architecture
   (alpha, beta) on the other with ``BCE + lam * E[lat] / lat_hand`` (``lat_hand`` = the table's
   latency unit: the hand-designed tagger's measured ms per frame, so ``lam = 1`` trades one BCE unit
   for one hand-tagger latency). Discretised by argmax: one candidate per ``lam``.
4. Every candidate and the hand-designed ``TinyTagger`` are trained from scratch (``seeds`` times,
   F1 averaged over the seeds; the best seed's weights are the ones timed and exported) with the
   same recipe (``drqa_ng.video.tagger._fit``: BCE with positive weights, AdamW, cosine, flips) on the
   train videos, scored on the validation videos (F1 per tag at probability 0.5) and timed end to
   end (frames/s, one thread, batches of 64, the models taking turns so load changes hit all alike).
5. The chosen candidate: the best macro F1 among those at least as fast as the hand tagger (else the
   fastest). It is written to ``OUT/tagger.safetensors``; ``report.json`` and ``report.png`` hold
   every candidate's F1 per tag against frames/s, the hand tagger's, the choice, and whether it
   beats the hand tagger (better F1 at equal or lower latency, or faster at equal F1, "equal" within
   ``F1_TIE`` points).

The whole run is kept within ``budget_s`` CPU-seconds: the searches share ``SEARCH_SHARE`` of it
(each stops after the epoch that passes its slice) and retraining gets the rest as an epoch cap.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from drqa_ng.errors import InputError
from drqa_ng.video.nas import (
    Arch,
    LatencyTable,
    SearchedTagger,
    SuperNet,
    arch_latency,
    discretise,
    expected_latency,
    measure_latency_table,
    save_searched,
    time_module,
)
from drqa_ng.video.recognize import Recognizer
from drqa_ng.video.tagger import DEFAULT_TAGS, TinyTagger, _fit, _torch_threads
from indexing.tagger_data import LabelledFrames, sample_and_label, split_by_video

log = logging.getLogger(__name__)

SEARCH_SHARE = 0.6
F1_TIE = 1.0  # F1 points within which two taggers count as equal
LATENCY_FILE = "latency_table.json"
REPORT_JSON = "report.json"
REPORT_PNG = "report.png"
TAGGER_FILE = "tagger.safetensors"


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Knobs of one run: latency weights (one search each), search and retrain epochs, CPU budget."""

    lambdas: tuple[float, ...] = (0.1, 1.0, 5.0)
    search_epochs: int = 20
    warmup_epochs: int = 2
    epochs: int = 30
    batch_size: int = 32
    budget_s: float = 3600.0
    fps: float = 1.0
    min_frames: int = 20
    val_every: int = 3
    seed: int = 0
    seeds: int = 2
    threads: int = 1
    input_size: int = 96
    arch_lr: float = 3e-2


@dataclass(frozen=True, slots=True)
class Scored:
    """One trained tagger on the validation videos: name, architecture text, F1 per tag (%), macro F1
    over the tags with validation positives, frames/s measured, table latency (ms/frame, searched only)."""

    name: str
    arch: str
    f1: tuple[float, ...]
    macro_f1: float
    frames_per_s: float
    table_ms: float | None
    lam: float | None = None
    macro_f1_seeds: tuple[float, ...] = ()
    exported_seed: int | None = None


def f1_per_tag(probs: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """F1 (%) per tag: ``2 TP / (2 TP + FP + FN)`` with predictions ``probs >= threshold``; 100 when a tag
    has neither positives nor predictions (nothing to find, nothing claimed)."""
    pred = probs >= threshold
    gold = labels >= 0.5
    tp = (pred & gold).sum(0)
    fp = (pred & ~gold).sum(0)
    fn = (~pred & gold).sum(0)
    den = 2 * tp + fp + fn
    return np.where(den > 0, 100.0 * 2 * tp / np.maximum(den, 1), 100.0)


def _tensors(data: LabelledFrames) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(data.images).permute(0, 3, 1, 2).float().div_(255.0)
    return x, torch.from_numpy(data.labels)


def _bce(y: torch.Tensor) -> nn.Module:
    pos = y.sum(0)
    return nn.BCEWithLogitsLoss(pos_weight=((len(y) - pos) / pos.clamp(min=1.0)).clamp(1.0, 10.0))


def search_arch(
    x: torch.Tensor,
    y: torch.Tensor,
    table: LatencyTable,
    lat_unit: float,
    lam: float,
    *,
    epochs: int,
    warmup: int,
    batch_size: int,
    seed: int,
    deadline: float | None = None,
    arch_lr: float = 3e-2,
) -> tuple[Arch, SuperNet, list[dict[str, float]]]:
    """First-order DARTS with the latency term (module docstring, step 3); returns the argmax arch,
    the supernet and one log row per epoch. Stops early after the epoch that passes ``deadline``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = SuperNet(DEFAULT_TAGS, int(x.shape[-1]))
    perm = torch.randperm(len(x), generator=gen)
    half = max(2, len(x) // 2)
    wi, ai = perm[:half], perm[half:] if len(x) - half >= 2 else perm[:half]
    loss_fn = _bce(y)
    w_opt = torch.optim.AdamW(net.weight_parameters(), lr=3e-3, weight_decay=1e-4)
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=arch_lr, betas=(0.5, 0.999), weight_decay=1e-3)
    rows: list[dict[str, float]] = []
    for epoch in range(epochs):
        net.train()
        wp = wi[torch.randperm(len(wi), generator=gen)]
        ap = ai[torch.randperm(len(ai), generator=gen)]
        tot = lat_v = 0.0
        for a in range(0, len(wp), batch_size):
            idx = wp[a : a + batch_size]
            if len(idx) < 2:
                continue
            loss = loss_fn(net(x[idx]), y[idx])
            w_opt.zero_grad()
            loss.backward()
            w_opt.step()
            tot += float(loss.detach()) * len(idx)
            if epoch >= warmup:
                j = (a // batch_size * batch_size) % max(1, len(ap))
                aidx = ap[j : j + batch_size]
                if len(aidx) < 2:
                    aidx = ap[:batch_size]
                lat = expected_latency(net, table)
                aloss = loss_fn(net(x[aidx]), y[aidx]) + lam * lat / lat_unit
                a_opt.zero_grad()
                aloss.backward()
                a_opt.step()
                lat_v = float(lat.detach())
        rows.append({"epoch": epoch + 1, "bce": tot / max(1, len(wp)), "expected_ms": lat_v})
        log.info(
            "search lam=%g epoch %d/%d: BCE %.4f, E[lat] %.3f ms",
            lam,
            epoch + 1,
            epochs,
            rows[-1]["bce"],
            lat_v,
        )
        if deadline is not None and time.process_time() > deadline:
            log.info("search lam=%g: CPU budget slice spent after epoch %d", lam, epoch + 1)
            break
    return discretise(net), net, rows


def train_model(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int, seed: int
) -> nn.Module:
    """Train ``model`` from its init with the hand tagger's recipe (``tagger._fit``)."""
    gen = torch.Generator().manual_seed(seed)
    _fit(model, x, y, _bce(y), epochs=epochs, lr=3e-3, batch_size=batch_size, gen=gen)  # type: ignore[arg-type]
    return model.eval()


def score(
    name: str,
    arch: str,
    model: nn.Module,
    xv: torch.Tensor,
    yv: torch.Tensor,
    table_ms: float | None,
    lam: float | None,
) -> Scored:
    """Validation F1 per tag (frames/s filled in later by ``measure_fps``, all models together)."""
    model.eval()
    with torch.inference_mode():
        probs = torch.sigmoid(model(xv)).numpy()
    f1 = f1_per_tag(probs, yv.numpy())
    has = yv.numpy().sum(0) > 0
    macro = float(f1[has].mean()) if has.any() else float(f1.mean())
    return Scored(name, arch, tuple(float(v) for v in f1), macro, 0.0, table_ms, lam)


def measure_fps(models: Sequence[nn.Module], size: int, rounds: int = 7, batch: int = 64) -> list[float]:
    """End-to-end frames/s of each model (one thread, batches of ``batch``): the models take turns
    for ``rounds`` rounds and each gets its median, so a change of machine load hits all alike."""
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    ms: list[list[float]] = [[] for _ in models]
    for _ in range(rounds):
        for i, m in enumerate(models):
            ms[i].append(time_module(m, x, reps=1))
    return [1000.0 / float(np.median(t)) for t in ms]


def beats(a: Scored, hand: Scored) -> bool:
    """``a`` beats ``hand``: better macro F1 (by more than ``F1_TIE``) at equal or higher frames/s, or
    faster at equal F1 (within ``F1_TIE``)."""
    if a.frames_per_s >= hand.frames_per_s and a.macro_f1 > hand.macro_f1 + F1_TIE:
        return True
    return a.frames_per_s > hand.frames_per_s and abs(a.macro_f1 - hand.macro_f1) <= F1_TIE


def choose(cands: Sequence[Scored], hand: Scored) -> Scored:
    """Best macro F1 among candidates at least as fast as the hand tagger; else the fastest candidate."""
    fast = [c for c in cands if c.frames_per_s >= hand.frames_per_s]
    if fast:
        return max(fast, key=lambda c: (c.macro_f1, c.frames_per_s))
    return max(cands, key=lambda c: c.frames_per_s)


def run_search(
    videos: Sequence[Path],
    out: Path,
    opts: SearchOptions = SearchOptions(),
    teacher: Recognizer | None = None,
) -> dict[str, object]:
    """The whole command (module docstring); returns the report written to ``out/report.json``.
    ``teacher`` labels the frames (default: Haar + Tesseract)."""
    if not opts.lambdas:
        raise InputError("give at least one latency weight")
    if opts.search_epochs < 1 or opts.epochs < 1 or opts.seeds < 1:
        raise InputError("epochs and seeds must be >= 1")
    out.mkdir(parents=True, exist_ok=True)
    c0, t0 = time.process_time(), time.perf_counter()
    data = sample_and_label(
        list(videos), out, size=opts.input_size, fps=opts.fps, min_frames=opts.min_frames, teacher=teacher
    )
    train_v, val_v = split_by_video(len(data.videos), opts.val_every)
    tr, va = data.subset(train_v), data.subset(val_v)
    if len(tr) < 4 or len(va) < 1:
        raise InputError(f"too few frames: {len(tr)} train, {len(va)} validation")
    x, y = _tensors(tr)
    xv, yv = _tensors(va)
    with _torch_threads(opts.threads):
        tpath = out / LATENCY_FILE
        if tpath.is_file():
            table = LatencyTable.from_dict(json.loads(tpath.read_text()))
        else:
            table = measure_latency_table(int(x.shape[-1]), threads=opts.threads)
            tpath.write_text(json.dumps(table.to_dict(), indent=1))
        hand_ms = time_module(TinyTagger(), torch.rand(table.batch, 3, x.shape[-2], x.shape[-1]), reps=5)
        search_budget = opts.budget_s * SEARCH_SHARE / len(opts.lambdas)
        archs: dict[Arch, float] = {}
        logs: dict[str, list[dict[str, float]]] = {}
        for lam in opts.lambdas:
            arch, _, rows = search_arch(
                x, y, table, hand_ms, lam,
                epochs=opts.search_epochs, warmup=opts.warmup_epochs, batch_size=opts.batch_size,
                seed=opts.seed, deadline=time.process_time() + search_budget, arch_lr=opts.arch_lr,
            )  # fmt: skip
            logs[str(lam)] = rows
            archs.setdefault(arch, lam)
        search_cpu = time.process_time() - c0
        # retraining gets what is left: (candidates + hand) x seeds models, an equal share of epochs each
        left = max(0.0, opts.budget_s - search_cpu)
        t_ep = time.process_time()
        train_model(TinyTagger(), x, y, epochs=1, batch_size=opts.batch_size, seed=opts.seed)
        per_epoch = max(1e-3, time.process_time() - t_ep)
        n_models = (len(archs) + 1) * opts.seeds
        epochs = max(1, min(opts.epochs, int(left / (per_epoch * 2.0 * n_models))))
        if epochs < opts.epochs:
            log.info("retraining for %d epochs (not %d) to stay within the CPU budget", epochs, opts.epochs)

        def retrain(
            make: Callable[[], nn.Module], name: str, arch: str, table_ms: float | None, lam: float | None
        ) -> tuple[nn.Module, Scored]:
            runs: list[Scored] = []
            trained: list[nn.Module] = []
            for k in range(opts.seeds):
                with torch.random.fork_rng():
                    torch.manual_seed(opts.seed + k)
                    m = make()
                train_model(m, x, y, epochs=epochs, batch_size=opts.batch_size, seed=opts.seed + k)
                runs.append(score(name, arch, m, xv, yv, table_ms, lam))
                trained.append(m)
            f1 = tuple(float(np.mean([r.f1[t] for r in runs])) for t in range(len(DEFAULT_TAGS)))
            macros = tuple(r.macro_f1 for r in runs)
            best = int(np.argmax(macros))  # the seed exported (and timed) when this net is chosen
            mean = replace(runs[0], f1=f1, macro_f1=float(np.mean(macros)), macro_f1_seeds=macros)
            return trained[best], replace(mean, exported_seed=opts.seed + best)

        hand_model, hand = retrain(
            TinyTagger, "hand-designed", "ShuffleNet v1 g3, widths 120/240/480, repeats 2/4/2", None, None
        )
        cands: list[Scored] = []
        models: dict[str, nn.Module] = {}
        for i, (arch, lam) in enumerate(archs.items()):
            name = f"searched-{i + 1}"
            models[name], c = retrain(
                functools.partial(SearchedTagger, arch), name, arch.name, arch_latency(arch, table), lam
            )
            cands.append(c)
        fps = measure_fps([hand_model, *models.values()], int(x.shape[-1]))
        hand = replace(hand, frames_per_s=fps[0])
        cands = [replace(c, frames_per_s=f) for c, f in zip(cands, fps[1:], strict=True)]
    chosen = choose(cands, hand)
    chosen_model = models[chosen.name]
    assert isinstance(chosen_model, SearchedTagger)
    save_searched(chosen_model, out / TAGGER_FILE)
    won = beats(chosen, hand)
    report: dict[str, object] = {
        "tags": list(DEFAULT_TAGS),
        "videos": {"train": [data.videos[i] for i in train_v], "validation": [data.videos[i] for i in val_v]},
        "frames": {"train": len(tr), "validation": len(va), "teacher_s": data.teacher_s},
        "positives": {"train": tr.labels.sum(0).tolist(), "validation": va.labels.sum(0).tolist()},
        "options": asdict(opts),
        "retrain_epochs": epochs,
        "latency_table_ms": {"hand_measured": hand_ms, "table_const": table.const},
        "search_log": logs,
        "hand": asdict(hand),
        "candidates": [asdict(c) for c in cands],
        "chosen": chosen.name,
        "chosen_beats_hand": won,
        "delta": {
            "macro_f1_points": chosen.macro_f1 - hand.macro_f1,
            "speedup": chosen.frames_per_s / hand.frames_per_s if hand.frames_per_s else None,
        },
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - t0,
        "files": [TAGGER_FILE, REPORT_JSON, REPORT_PNG, LATENCY_FILE],
    }
    (out / REPORT_JSON).write_text(json.dumps(report, indent=1) + "\n")
    plot_report(report, out / REPORT_PNG)
    return report


def plot_report(report: dict[str, object], path: Path) -> None:
    """One panel per tag plus macro F1: validation F1 (%) against frames/s, hand tagger as a star,
    the chosen candidate ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tags = list(report["tags"])  # type: ignore[call-overload]
    hand = report["hand"]
    cands = report["candidates"]
    assert isinstance(hand, dict) and isinstance(cands, list)
    fig, axes = plt.subplots(1, len(tags) + 1, figsize=(4 * (len(tags) + 1), 3.6))
    for k, ax in enumerate(axes):
        title = tags[k] if k < len(tags) else "macro F1"

        def val(d: dict[str, object], k: int = k) -> float:
            f1 = d["f1"]
            assert isinstance(f1, list | tuple)
            return float(f1[k]) if k < len(tags) else float(d["macro_f1"])  # type: ignore[arg-type]

        for c in cands:
            ax.scatter(c["frames_per_s"], val(c), color="tab:blue", s=30)
            ax.annotate(c["name"].replace("searched-", "s"), (c["frames_per_s"], val(c)), fontsize=7)
            if c["name"] == report["chosen"]:
                ax.scatter(c["frames_per_s"], val(c), s=160, facecolors="none", edgecolors="tab:red")
        ax.scatter(
            hand["frames_per_s"], val(hand), marker="*", s=160, color="tab:orange", label="hand-designed"
        )
        ax.set_title(title)
        ax.set_xlabel("frames/s (1 thread)")
        ax.set_ylabel("validation F1 %")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Tagger search: searched candidates (blue, chosen ringed) vs the hand-designed tagger")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
