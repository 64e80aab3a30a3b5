"""Fine-tuning the span reader: AdamW + linear warmup/decay over a weighted mix of sources, resumable.

A run folder holds ``ckpt/`` (the full training state: model, optimizer, scheduler, data position,
RNG states; see ``checkpoint.py``), ``last/`` (the model at the latest dev evaluation), ``model/``
(the model with the best dev F1, or the last one when there is no dev set), ``features/`` (each
source's tokenised windows, reused on resume) and ``log.jsonl`` (one JSON object per logged step /
eval, with ``windows_seen`` and ``windows_per_s``). Calling ``train_reader`` again on a folder with ``ckpt/``
continues the run from there; a run of N steps done in several pieces ends with the same weights
as one done at once (same device, same thread count).

Data order: each epoch draws ``round(weight * windows)`` windows of every source (without
replacement up to its size, whole copies beyond), then makes length-bucketed batches, all from a
generator seeded with ``(seed, epoch)``; so the position in the data is ``(epoch, batch)``.
Precision: bf16 autocast on a CUDA GPU and on CPUs with native bf16 (AVX-512 BF16 / AMX), fp32
elsewhere (``precision="auto"``; see ``bf16_is_fast``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.reading.data import QAExample
from drqa_ng.reading.evaluate import ReaderEval, evaluate_reader
from drqa_ng.reading.features import answer_positions, make_windows

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")
# settings that change when things are logged or saved, never the weights: a continued run may change them
BOOKKEEPING = ("threads", "save_every", "save_minutes", "eval_every", "log_every")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    max_length: int = 384
    stride: int = 128
    max_answer_len: int = 30
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    epochs: float = 2.0
    max_steps: int | None = None
    save_every: int = 100
    save_minutes: float = 10.0
    eval_every: int | None = None
    log_every: int = 10
    dev_limit: int | None = None
    seed: int = 13
    threads: int | None = None
    precision: str = "auto"


@dataclass(frozen=True, slots=True)
class TrainSource:
    """One training file's examples and its sampling weight (windows drawn per epoch = weight x windows)."""

    name: str
    examples: Sequence[QAExample]
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class TrainResult:
    steps: int
    seconds: float
    final_loss: float
    best_step: int
    best_dev: ReaderEval | None


@dataclass(frozen=True)
class TrainWindows:
    """Training windows in compact arrays: token ids padded to ``max_length``, true lengths, targets."""

    input_ids: np.ndarray  # (rows, max_length) int32
    token_type_ids: np.ndarray  # (rows, max_length) int8
    lengths: np.ndarray  # (rows,) int32
    targets: np.ndarray  # (rows, 2) int64 start/end token, (0, 0) = answer not in the window

    def __len__(self) -> int:
        return int(self.lengths.shape[0])


def build_features(
    tokenizer: object, examples: Sequence[QAExample], cfg: TrainConfig, chunk: int = 2000
) -> TrainWindows:
    """Windows of every example plus (start, end) token targets, built ``chunk`` examples at a time."""
    ids, tts, lens, tgts = [], [], [], []
    for i in range(0, len(examples), chunk):
        part = examples[i : i + chunk]
        win = make_windows(
            tokenizer, [e.question for e in part], [e.context for e in part], cfg.max_length, cfg.stride
        )
        starts = [e.answer_starts[0] for e in part]
        ends = [e.answer_starts[0] + len(e.answers[0]) for e in part]
        tgts.append(answer_positions(win, starts, ends))
        pad = cfg.max_length - win.input_ids.shape[1]
        ids.append(np.pad(win.input_ids, ((0, 0), (0, pad))).astype(np.int32))
        tts.append(np.pad(win.token_type_ids, ((0, 0), (0, pad))).astype(np.int8))
        lens.append(win.attention_mask.sum(axis=1).astype(np.int32))
    if not ids:
        return TrainWindows(
            np.zeros((0, cfg.max_length), np.int32),
            np.zeros((0, cfg.max_length), np.int8),
            np.zeros(0, np.int32),
            np.zeros((0, 2), np.int64),
        )
    return TrainWindows(np.concatenate(ids), np.concatenate(tts), np.concatenate(lens), np.concatenate(tgts))


FEATURES_KIND = "reader-train-features"
FEATURES_VERSION = 1


def features_key(tokenizer: Any, examples: Sequence[QAExample], cfg: TrainConfig) -> str:
    """sha256 of everything the windows depend on: tokenizer, window settings, each example's text and target."""
    h = hashlib.sha256()
    # the vocabulary, not the serialised tokenizer: that also holds the last call's padding settings
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    h.update(f"{type(tokenizer).__name__}{sorted(vocab.items())}".encode())
    h.update(f"{cfg.max_length}/{cfg.stride}/{len(examples)}".encode())
    for e in examples:
        h.update(f"\x00{e.question}\x01{e.context}\x01{e.answers[0]}\x01{e.answer_starts[0]}".encode())
    return h.hexdigest()


def cached_features(
    folder: Path, name: str, tokenizer: Any, examples: Sequence[QAExample], cfg: TrainConfig
) -> TrainWindows:
    """``build_features``, stored once in ``folder/NAME-KEY/`` (.npy + manifest) and mmap-loaded after.

    Tokenising tens of thousands of examples takes minutes on a busy CPU; a resumed run reads them back.
    """
    from drqa_ng.index_io import MANIFEST, atomic_dir, read_manifest, write_manifest

    key = features_key(tokenizer, examples, cfg)
    path = Path(folder) / f"{name}-{key[:16]}"
    arrays = ("input_ids", "token_type_ids", "lengths", "targets")
    if (path / MANIFEST).is_file() and read_manifest(path, FEATURES_KIND, FEATURES_VERSION).get("key") == key:
        return TrainWindows(*(np.load(path / f"{a}.npy", mmap_mode="r", allow_pickle=False) for a in arrays))
    feats = build_features(tokenizer, examples, cfg)
    with atomic_dir(path) as tmp:
        for a in arrays:
            np.save(tmp / f"{a}.npy", getattr(feats, a), allow_pickle=False)
        write_manifest(
            tmp,
            FEATURES_KIND,
            FEATURES_VERSION,
            key=key,
            source=name,
            windows=len(feats),
            examples=len(examples),
        )
    return feats


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool: int = 50
) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort inside pools of ``pool`` batches, shuffle batches.

    Similar lengths in a batch cut padding (CPU time) without giving up random order across the epoch.
    """
    perm = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for i in range(0, len(perm), span):
        chunk = perm[i : i + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[k] for k in order]


def draws_per_epoch(counts: Sequence[int], weights: Sequence[float]) -> list[int]:
    """Windows drawn from each source per epoch: ``round(weight_i * count_i)``."""
    return [round(w * n) for n, w in zip(counts, weights, strict=True)]


def epoch_rows(counts: Sequence[int], weights: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Global row indices of one epoch's mix: each source's draw without replacement up to its size,
    whole copies beyond (weight 2.5 = every window twice + half of them once more)."""
    rows: list[np.ndarray] = []
    offset = 0
    for n, k in zip(counts, draws_per_epoch(counts, weights), strict=True):
        if n:
            full, rest = divmod(k, n)
            part = [np.arange(n)] * full + [rng.choice(n, size=rest, replace=False)]
            rows.extend(r + offset for r in part)
        offset += n
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)


def epoch_batches(
    lengths: np.ndarray,
    counts: Sequence[int],
    weights: Sequence[float],
    batch_size: int,
    seed: int,
    epoch: int,
) -> list[np.ndarray]:
    """The batches (global row indices) of ``epoch``: a pure function of its arguments."""
    rng = np.random.default_rng([seed, epoch])
    rows = epoch_rows(counts, weights, rng)
    return [rows[b] for b in bucketed_batches(lengths[rows], batch_size, rng)]


def bf16_is_fast(device_type: str) -> bool:
    """Whether bf16 autocast is worth it here: a CUDA GPU, or a CPU with native bf16 instructions
    (AVX-512 BF16 or AMX, as oneDNN reports them / /proc/cpuinfo lists them). On AVX2-only CPUs bf16
    is emulated and slower than fp32."""
    import torch

    if device_type == "cuda":
        return True
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
    native = any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))
    try:
        onednn = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        onednn = False
    # oneDNN says "supported" on any AVX-512 core (emulated there), so the native flags must agree
    return onednn and native


def span_loss(model: Any, data: TrainWindows, idx: np.ndarray, bf16: bool) -> Any:
    """Mean start/end cross-entropy of the windows ``idx`` (padding masked out), bf16 autocast if asked.

    loss = (CE(start_logits, start) + CE(end_logits, end)) / 2, averaged over the batch; a window
    whose answer lies outside it targets token 0 ([CLS]).
    """
    import torch

    device = next(model.parameters()).device
    n = int(data.lengths[idx].max())
    ids = torch.as_tensor(data.input_ids[idx, :n].astype(np.int64), device=device)
    lengths = torch.as_tensor(data.lengths[idx], device=device)
    mask = torch.arange(n, device=device)[None, :] < lengths[:, None]
    tti = torch.as_tensor(data.token_type_ids[idx, :n].astype(np.int64), device=device)
    tgt = torch.as_tensor(data.targets[idx], device=device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
        s, e = model(ids, mask.long(), tti)
    s = s.float().masked_fill(~mask, -1e4)
    e = e.float().masked_fill(~mask, -1e4)
    ce = torch.nn.functional.cross_entropy
    return (ce(s, tgt[:, 0]) + ce(e, tgt[:, 1])) / 2


def train_reader(
    train: Sequence[QAExample] | Sequence[TrainSource],
    dev: Sequence[QAExample],
    out: Path,
    base: Path,
    cfg: TrainConfig,
    stop_at_step: int | None = None,
) -> TrainResult:
    """Fine-tune a span model on ``train`` (examples, or weighted sources); evaluate on ``dev``.

    ``base`` is an HF encoder folder (fresh head) or a reader model folder (training continues it,
    head included). When ``out`` already holds ``ckpt/``, the run continues from it: the sources'
    window counts and ``cfg`` (``BOOKKEEPING`` fields aside) must match the run's, else ``InputError``.
    ``stop_at_step`` ends this piece of the run early (state saved), as an interruption would.
    """
    import torch
    from tqdm import tqdm

    from drqa_ng.reading.checkpoint import LoopPosition, has_state, load_state, read_extra, save_state
    from drqa_ng.reading.manifest import ReaderManifest, is_reader_folder
    from drqa_ng.reading.model import (
        MODEL_KIND,
        SpanModel,
        init_model,
        load_model,
        load_tokenizer,
        save_model,
    )
    from drqa_ng.reading.reader import ReaderSettings, torch_reader

    srcs = [s for s in train if isinstance(s, TrainSource)]
    if len(srcs) != len(train):
        if srcs:
            raise InputError("train must be all examples or all sources, not a mix")
        srcs = [TrainSource("train", list(train))]  # type: ignore[arg-type]
    if not any(s.examples for s in srcs):
        raise InputError("no training examples")
    if any(s.weight < 0 for s in srcs):
        raise InputError("source weights must be >= 0")
    if cfg.precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {cfg.precision!r}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock_run(out)
    try:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and bf16_is_fast(device.type))

        tokenizer = load_tokenizer(base)
        # a trained reader folder (our manifest) continues training, head included; an HF encoder starts fresh
        prior = ReaderManifest.load(base) if is_reader_folder(base) else None
        continued = prior is not None and prior.kind == MODEL_KIND
        model: SpanModel = (load_model(base) if continued else init_model(base)).to(device)
        t0 = time.perf_counter()
        feats = [cached_features(out / "features", s.name, tokenizer, s.examples, cfg) for s in srcs]
        counts = [len(f) for f in feats]
        weights = [s.weight for s in srcs]
        data = TrainWindows(
            np.concatenate([f.input_ids for f in feats]),
            np.concatenate([f.token_type_ids for f in feats]),
            np.concatenate([f.lengths for f in feats]),
            np.concatenate([f.targets for f in feats]),
        )
        del feats
        draws = draws_per_epoch(counts, weights)
        per_epoch_windows = sum(draws)
        if per_epoch_windows == 0:
            raise InputError("every source has weight 0")
        per_step = cfg.batch_size * cfg.grad_accum
        per_epoch = math.ceil(per_epoch_windows / per_step)
        total = cfg.max_steps if cfg.max_steps is not None else max(1, int(per_epoch * cfg.epochs))
        mix = [
            {
                "source": s.name,
                "examples": len(s.examples),
                "windows": n,
                "weight": s.weight,
                "drawn_per_epoch": k,
            }
            for s, n, k in zip(srcs, counts, draws, strict=True)
        ]
        log.info(
            "%d windows in %.1fs; per epoch %d drawn, %d steps in all",
            len(data),
            time.perf_counter() - t0,
            per_epoch_windows,
            total,
        )
        for row in mix:
            log.info(
                "source %(source)s: %(examples)d examples, %(windows)d windows, weight %(weight)g -> %(drawn_per_epoch)d per epoch",
                row,
            )

        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
        )
        warm = max(1, int(cfg.warmup * total))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
        )
        settings = ReaderSettings(cfg.max_length, cfg.stride, cfg.max_answer_len, batch_size=64)
        fingerprint = {
            "train_config": {k: v for k, v in asdict(cfg).items() if k not in BOOKKEEPING},
            "mix": mix,
            "total_steps": total,
        }
        info = {
            "base_encoder": str(prior.base_encoder or base) if prior is not None and continued else str(base),
            "continued_from": {"folder": str(base), "steps": prior.steps}
            if prior is not None and continued
            else None,
            "train_examples": sum(len(s.examples) for s in srcs),
            "train_windows": len(data),
            "train_mix": mix,
            "max_length": cfg.max_length,
            "stride": cfg.stride,
            "max_answer_len": cfg.max_answer_len,
            "precision": "bf16" if bf16 else "fp32",
            "train_config": asdict(cfg),
        }
        # an evenly spaced dev sample covers every article, unlike the first N questions
        dev_items = (
            list(dev)[:: max(1, len(dev) // cfg.dev_limit)][: cfg.dev_limit] if cfg.dev_limit else list(dev)
        )
        pos = LoopPosition(0, 0, 0)
        best_f1, best_step, best_eval = -1.0, 0, None
        loss_avg, seen = float("nan"), 0
        ckpt = out / "ckpt"
        if has_state(ckpt):
            stored = read_extra(ckpt).get("fingerprint")
            if stored != json.loads(json.dumps(fingerprint)):
                raise InputError(
                    f"{out} holds a different run (its data mix or settings differ); use a new folder"
                )
            pos, extra = load_state(ckpt, model, opt, sched)
            best_f1, best_step = float(extra["best_f1"]), int(extra["best_step"])
            best_eval = ReaderEval(**extra["best_dev"]) if extra.get("best_dev") else None
            loss_avg, seen = float(extra["loss_avg"]), int(extra["windows_seen"])
            _truncate_log(out / "log.jsonl", pos.step)
            log.info(
                "resumed %s at step %d of %d (epoch %d, batch %d)", out, pos.step, total, pos.epoch, pos.batch
            )
    except BaseException:
        lock.close()
        raise
    stack = contextlib.ExitStack()
    stack.callback(lock.close)
    # closed by `with stack` below; the checkpoint closures need it before the loop starts
    logf = stack.enter_context(open(out / "log.jsonl", "a", encoding="utf-8"))  # noqa: SIM115
    if pos.step == 0:
        logf.write(
            json.dumps({"step": 0, "mix": mix, "total_steps": total, "precision": info["precision"]}) + "\n"
        )
    step, epoch, bi = pos.step, pos.epoch, pos.batch
    batches = epoch_batches(data.lengths, counts, weights, cfg.batch_size, cfg.seed, epoch)
    bar = stack.enter_context(tqdm(total=total, initial=step, desc="train-reader", unit="step"))
    eval_every = cfg.eval_every or cfg.save_every

    def save() -> None:
        save_state(
            ckpt,
            model,
            opt,
            sched,
            LoopPosition(step, epoch, bi),
            fingerprint=fingerprint,
            best_f1=best_f1,
            best_step=best_step,
            best_dev=asdict(best_eval) if best_eval else None,
            loss_avg=loss_avg,
            windows_seen=seen,
        )

    def evaluate() -> None:
        nonlocal best_f1, best_step, best_eval
        model.eval()
        res = None
        if dev_items:
            res, _ = evaluate_reader(torch_reader(model, tokenizer, settings), dev_items)
            logf.write(json.dumps({"step": step, "windows_seen": seen, "dev": asdict(res)}) + "\n")
            logf.flush()
            log.info("step %d: dev EM %.2f F1 %.2f", step, res.exact_match, res.f1)
        fields = {**info, "steps": step, "windows_seen": seen, "dev_eval": asdict(res) if res else None}
        save_model(model, base, out / "last", **fields)
        if res is None or res.f1 > best_f1:
            best_f1, best_step, best_eval = (res.f1 if res else 0.0), step, res
            save_model(model, base, out / "model", **fields)
        model.train()

    if step == 0 and continued and dev_items:
        evaluate()  # the starting model is the first point of the curve and the best so far
    model.train()
    last_save = t_log = time.perf_counter()
    seen_log = seen
    with stack:
        while step < min(total, stop_at_step or total):
            opt.zero_grad(set_to_none=True)
            lv = 0.0
            for _ in range(cfg.grad_accum):
                if bi >= len(batches):
                    epoch, bi = epoch + 1, 0
                    batches = epoch_batches(data.lengths, counts, weights, cfg.batch_size, cfg.seed, epoch)
                idx = batches[bi]
                bi += 1
                loss = span_loss(model, data, idx, bf16) / cfg.grad_accum
                loss.backward()
                lv += float(loss.item())
                seen += len(idx)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            loss_avg = lv if math.isnan(loss_avg) else 0.9 * loss_avg + 0.1 * lv
            bar.update(1)
            bar.set_postfix(loss=f"{loss_avg:.3f}")
            if step % cfg.log_every == 0 or step == total:
                now = time.perf_counter()
                logf.write(
                    json.dumps(
                        {
                            "step": step,
                            "epoch": epoch,
                            "loss": lv,
                            "loss_avg": loss_avg,
                            "lr": sched.get_last_lr()[0],
                            "windows_seen": seen,
                            "windows_per_s": (seen - seen_log) / max(now - t_log, 1e-9),
                            "elapsed_s": now - t0,
                        }
                    )
                    + "\n"
                )
                logf.flush()
                t_log, seen_log = now, seen
            if step % eval_every == 0 or step == total:
                evaluate()
            if (
                step % cfg.save_every == 0
                or step == total
                or time.perf_counter() - last_save > 60 * cfg.save_minutes
            ):
                save()
                last_save = time.perf_counter()
        if step < total and step % cfg.save_every:
            save()
    return TrainResult(step, time.perf_counter() - t0, loss_avg, best_step, best_eval)


def _lock_run(out: Path) -> Any:
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


def _truncate_log(path: Path, step: int) -> None:
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
