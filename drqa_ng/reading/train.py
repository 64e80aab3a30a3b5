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
elsewhere (``precision="auto"``; see ``model.bf16_is_fast``).
"""

from __future__ import annotations

import contextlib
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
from drqa_ng.reading.trainset import (
    BOOKKEEPING,
    PRECISIONS,
    TrainConfig,
    TrainSource,
    TrainWindows,
    cached_features,
    concat_windows,
    draws_per_epoch,
    epoch_batches,
)

__all__ = ["BOOKKEEPING", "TrainConfig", "TrainResult", "TrainSource", "check_sources", "train_reader"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainResult:
    steps: int
    seconds: float
    final_loss: float
    best_step: int
    best_dev: ReaderEval | None


def span_loss(
    model: Any,
    data: TrainWindows,
    idx: np.ndarray,
    bf16: bool,
    hard_weight: float = 0.5,
    temperature: float = 2.0,
    shared_norm: bool = False,
) -> Any:
    """Mean loss of the windows ``idx`` (padding masked out), bf16 autocast if asked.

    hard_r = (CE(start_logits, start) + CE(end_logits, end)) / 2, a window whose answer lies outside
    it targeting token 0 ([CLS]); soft_r = ``distill.distill_loss`` against the teacher's targets.
    loss = mean_r(w_hard,r · hard_r + w_soft,r · soft_r), with (w_hard, w_soft) = (α, 1 − α) for a row
    with a gold answer and a teacher label (α = ``hard_weight``), (1, 0) gold only, (0, 1) teacher only.

    ``shared_norm`` (Clark & Gardner 2018): the windows of one question group g (``data.group``) share
    one softmax, so span scores compare across paragraphs as the pipeline compares them. With P_g the
    windows of g that hold the answer (gold, target ≠ [CLS]) and t_r their start targets,

        hard_g,start = logsumexp_{r∈g, i} s_r,i − logsumexp_{r∈P_g} s_r,t_r   (the same for ends)

    averaged over start and end; it replaces the rows' hard loss, counted once per window of P_g, with
    weight α where a row of g also has a teacher label. Windows of a group without P_g (the answer in
    none of them) train only through their teacher labels; negatives (no gold, no teacher) only
    enlarge their group's normaliser.
    """
    import torch

    from drqa_ng.reading.distill import distill_loss

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
    gold = torch.as_tensor(data.gold[idx], device=device).float()
    if shared_norm:
        hard, gold = _shared_norm_hard(s, e, tgt, gold, np.asarray(data.group[idx]))
    else:
        ce = torch.nn.functional.cross_entropy
        hard = (ce(s, tgt[:, 0], reduction="none") + ce(e, tgt[:, 1], reduction="none")) / 2
    prob = torch.as_tensor(np.asarray(data.soft_prob[idx]), device=device)
    taught = (prob.sum(dim=(1, 2)) > 0).float()
    if not bool(taught.any()):
        return (hard * gold).sum() / max(1, len(idx))
    pos = torch.as_tensor(np.asarray(data.soft_pos[idx]), device=device)
    soft = distill_loss(s, e, pos, prob, temperature)
    w_hard = gold * torch.where(taught > 0, hard_weight, 1.0)
    w_soft = taught * torch.where(gold > 0, 1.0 - hard_weight, 1.0)
    return (w_hard * hard + w_soft * soft).sum() / len(idx)


def _shared_norm_hard(s: Any, e: Any, tgt: Any, gold: Any, groups: np.ndarray) -> tuple[Any, Any]:
    """Per-row hard loss and gold weight under the shared normaliser (``span_loss``): every row of P_g
    carries hard_g; other rows get weight 0."""
    import torch

    positive = (gold > 0) & (tgt[:, 0] > 0)
    hard = s[:, 0] * 0.0  # zeros that keep the graph: a batch may hold no positive window at all
    weight = torch.zeros_like(gold)
    lse_s, lse_e = torch.logsumexp(s, dim=1), torch.logsumexp(e, dim=1)
    rows = torch.arange(len(gold), device=gold.device)
    gold_s, gold_e = s[rows, tgt[:, 0]], e[rows, tgt[:, 1]]
    for g in np.unique(groups):
        members = torch.as_tensor(np.flatnonzero(groups == g), device=gold.device)
        pos = members[positive[members]]
        if len(pos) == 0:
            continue
        start = torch.logsumexp(lse_s[members], 0) - torch.logsumexp(gold_s[pos], 0)
        end = torch.logsumexp(lse_e[members], 0) - torch.logsumexp(gold_e[pos], 0)
        hard = hard.index_put((pos,), ((start + end) / 2).expand(len(pos)))
        weight = weight.index_put((pos,), torch.ones(len(pos), device=gold.device))
    return hard, weight


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

    Stages: ``check_sources`` -> ``_seed`` -> ``_prepare`` (model, windows, optimizer, what the
    manifests record) -> ``_resume`` (the checkpoint, if any) -> ``_loop`` (steps, logs, evaluations,
    saves). The order matters: seeding comes before the model's head is initialised.
    """
    from drqa_ng.reading.checkpoint import lock_run

    srcs = check_sources(train, cfg)
    _seed(cfg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = lock_run(out)
    try:
        run = _prepare(srcs, dev, out, Path(base), cfg)
        state = _resume(run)
    except BaseException:
        lock.close()
        raise
    return _loop(run, state, lock, stop_at_step)


def check_sources(train: Sequence[QAExample] | Sequence[TrainSource], cfg: TrainConfig) -> list[TrainSource]:
    """The training sources (plain examples become one source "train"); InputError for a mix of the
    two, no examples, a negative weight or an unknown precision."""
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
    return srcs


def _seed(cfg: TrainConfig) -> None:
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)


@dataclass
class _Run:
    """What a run holds for its whole length (internal to this module): the model and its optimizer,
    the windows and their mix, and the fields written into the saved models' manifests."""

    cfg: TrainConfig
    out: Path
    base: Path
    bf16: bool
    tokenizer: Any
    model: Any
    continued: bool
    data: TrainWindows
    counts: list[int]
    weights: list[float]
    total: int
    mix: list[dict[str, Any]]
    opt: Any
    sched: Any
    settings: Any
    fingerprint: dict[str, Any]
    info: dict[str, Any]
    dev_items: list[QAExample]
    t0: float

    @property
    def ckpt(self) -> Path:
        return self.out / "ckpt"


@dataclass
class _State:
    """Where the loop stands and the best dev result so far (saved in the checkpoint's extras)."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    best_f1: float = -1.0
    best_step: int = 0
    best_eval: ReaderEval | None = None
    loss_avg: float = float("nan")
    seen: int = 0


def _prepare(
    srcs: Sequence[TrainSource], dev: Sequence[QAExample], out: Path, base: Path, cfg: TrainConfig
) -> _Run:
    """Stage: the device and precision, the model (continued or fresh), each source's windows, the
    optimizer and schedule, and what the saved models' manifests record."""
    import torch

    from drqa_ng.reading.manifest import ReaderManifest, is_reader_folder
    from drqa_ng.reading.model import MODEL_KIND, bf16_is_fast, init_model, load_model, load_tokenizer
    from drqa_ng.reading.reader import ReaderSettings

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and bf16_is_fast(device.type))
    tokenizer = load_tokenizer(base)
    # a trained reader folder (our manifest) continues training, head included; an HF encoder starts fresh
    prior = ReaderManifest.load(base) if is_reader_folder(base) else None
    continued = prior is not None and prior.kind == MODEL_KIND
    model = (load_model(base) if continued else init_model(base)).to(device)
    t0 = time.perf_counter()
    feats = [cached_features(out / "features", s.name, tokenizer, s.examples, cfg) for s in srcs]
    counts = [len(f) for f in feats]
    weights = [s.weight for s in srcs]
    data = concat_windows(feats)
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
    fingerprint = {
        "train_config": {k: v for k, v in asdict(cfg).items() if k not in BOOKKEEPING},
        "mix": mix,
        "total_steps": total,
    }
    from_prior = prior if prior is not None and continued else None
    info = {
        "base_encoder": str(from_prior.base_encoder or base) if from_prior else str(base),
        "continued_from": {"folder": str(base), "steps": from_prior.steps} if from_prior else None,
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
    return _Run(
        cfg=cfg,
        out=out,
        base=base,
        bf16=bf16,
        tokenizer=tokenizer,
        model=model,
        continued=continued,
        data=data,
        counts=counts,
        weights=weights,
        total=total,
        mix=mix,
        opt=opt,
        sched=sched,
        settings=ReaderSettings(cfg.max_length, cfg.stride, cfg.max_answer_len, batch_size=64),
        fingerprint=fingerprint,
        info=info,
        dev_items=dev_items,
        t0=t0,
    )


def _resume(run: _Run) -> _State:
    """Stage: the loop state of a run continued from ``ckpt/`` (model, optimizer, schedule and RNGs
    restored), or a fresh one. InputError when the checkpoint belongs to another run."""
    from drqa_ng.reading.checkpoint import has_state, load_state, read_extra, truncate_log

    if not has_state(run.ckpt):
        return _State()
    stored = read_extra(run.ckpt).get("fingerprint")
    if stored != json.loads(json.dumps(run.fingerprint)):
        raise InputError(
            f"{run.out} holds a different run (its data mix or settings differ); use a new folder"
        )
    pos, extra = load_state(run.ckpt, run.model, run.opt, run.sched)
    st = _State(
        step=pos.step,
        epoch=pos.epoch,
        batch=pos.batch,
        best_f1=float(extra["best_f1"]),
        best_step=int(extra["best_step"]),
        best_eval=ReaderEval(**extra["best_dev"]) if extra.get("best_dev") else None,
        loss_avg=float(extra["loss_avg"]),
        seen=int(extra["windows_seen"]),
    )
    truncate_log(run.out / "log.jsonl", pos.step)
    log.info(
        "resumed %s at step %d of %d (epoch %d, batch %d)", run.out, pos.step, run.total, pos.epoch, pos.batch
    )
    return st


def _save(run: _Run, st: _State) -> None:
    """The full training state into ``ckpt/`` (one rename)."""
    from drqa_ng.reading.checkpoint import LoopPosition, save_state

    save_state(
        run.ckpt,
        run.model,
        run.opt,
        run.sched,
        LoopPosition(st.step, st.epoch, st.batch),
        fingerprint=run.fingerprint,
        best_f1=st.best_f1,
        best_step=st.best_step,
        best_dev=asdict(st.best_eval) if st.best_eval else None,
        loss_avg=st.loss_avg,
        windows_seen=st.seen,
    )


def _evaluate(run: _Run, st: _State, logf: Any) -> None:
    """Dev evaluation (when there is a dev set): the model goes to ``last/``, and to ``model/`` when best."""
    from drqa_ng.reading.model import save_model
    from drqa_ng.reading.reader import torch_reader

    run.model.eval()
    res = None
    if run.dev_items:
        res, _ = evaluate_reader(torch_reader(run.model, run.tokenizer, run.settings), run.dev_items)
        logf.write(json.dumps({"step": st.step, "windows_seen": st.seen, "dev": asdict(res)}) + "\n")
        logf.flush()
        log.info("step %d: dev EM %.2f F1 %.2f", st.step, res.exact_match, res.f1)
    fields = {**run.info, "steps": st.step, "windows_seen": st.seen, "dev_eval": asdict(res) if res else None}
    save_model(run.model, run.base, run.out / "last", **fields)
    if res is None or res.f1 > st.best_f1:
        st.best_f1, st.best_step, st.best_eval = (res.f1 if res else 0.0), st.step, res
        save_model(run.model, run.base, run.out / "model", **fields)
    run.model.train()


def _batches(run: _Run, epoch: int) -> list[np.ndarray]:
    """The batches of ``epoch`` (by question group under ``shared_norm``)."""
    cfg = run.cfg
    groups = np.asarray(run.data.group) if cfg.shared_norm else None
    return epoch_batches(run.data.lengths, run.counts, run.weights, cfg.batch_size, cfg.seed, epoch, groups)


def _step(run: _Run, st: _State, batches: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    """One optimizer step over ``grad_accum`` batches (the next epoch's batches drawn when one ends);
    returns the step's loss and the current epoch's batches."""
    import torch

    cfg = run.cfg
    run.opt.zero_grad(set_to_none=True)
    lv = 0.0
    for _ in range(cfg.grad_accum):
        if st.batch >= len(batches):
            st.epoch, st.batch = st.epoch + 1, 0
            batches = _batches(run, st.epoch)
        idx = batches[st.batch]
        st.batch += 1
        loss = (
            span_loss(run.model, run.data, idx, run.bf16, cfg.hard_weight, cfg.temperature, cfg.shared_norm)
            / cfg.grad_accum
        )
        loss.backward()
        lv += float(loss.item())
        st.seen += len(idx)
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.opt.step()
    run.sched.step()
    st.step += 1
    st.loss_avg = lv if math.isnan(st.loss_avg) else 0.9 * st.loss_avg + 0.1 * lv
    return lv, batches


def _loop(run: _Run, st: _State, lock: Any, stop_at_step: int | None) -> TrainResult:
    """Stage: steps until the schedule ends (or ``stop_at_step``), logging, evaluating and saving on
    their cadences; the lock is released when it returns."""
    from tqdm import tqdm

    cfg, total = run.cfg, run.total
    stack = contextlib.ExitStack()
    stack.callback(lock.close)
    logf = stack.enter_context(open(run.out / "log.jsonl", "a", encoding="utf-8"))  # noqa: SIM115
    if st.step == 0:
        head = {"step": 0, "mix": run.mix, "total_steps": total, "precision": run.info["precision"]}
        logf.write(json.dumps(head) + "\n")
    batches = _batches(run, st.epoch)
    bar = stack.enter_context(tqdm(total=total, initial=st.step, desc="train-reader", unit="step"))
    eval_every = cfg.eval_every or cfg.save_every
    if st.step == 0 and run.continued and run.dev_items:
        _evaluate(run, st, logf)  # the starting model is the first point of the curve and the best so far
    run.model.train()
    last_save = t_log = time.perf_counter()
    seen_log = st.seen
    with stack:
        while st.step < min(total, stop_at_step or total):
            lv, batches = _step(run, st, batches)
            bar.update(1)
            bar.set_postfix(loss=f"{st.loss_avg:.3f}")
            if st.step % cfg.log_every == 0 or st.step == total:
                now = time.perf_counter()
                row = {
                    "step": st.step,
                    "epoch": st.epoch,
                    "loss": lv,
                    "loss_avg": st.loss_avg,
                    "lr": run.sched.get_last_lr()[0],
                    "windows_seen": st.seen,
                    "windows_per_s": (st.seen - seen_log) / max(now - t_log, 1e-9),
                    "elapsed_s": now - run.t0,
                }
                logf.write(json.dumps(row) + "\n")
                logf.flush()
                t_log, seen_log = now, st.seen
            if st.step % eval_every == 0 or st.step == total:
                _evaluate(run, st, logf)
            if (
                st.step % cfg.save_every == 0
                or st.step == total
                or time.perf_counter() - last_save > 60 * cfg.save_minutes
            ):
                _save(run, st)
                last_save = time.perf_counter()
        if st.step < total and st.step % cfg.save_every:
            _save(run, st)
    return TrainResult(st.step, time.perf_counter() - run.t0, st.loss_avg, st.best_step, st.best_eval)
