"""Fine-tuning the span reader: AdamW + linear warmup/decay, length-bucketed batches, checkpoints.

A run folder holds ``last/`` (the latest checkpoint), ``model/`` (the checkpoint with the best dev F1,
or the last one when there is no dev set) and ``log.jsonl`` (one JSON object per logged step / eval).
bf16 autocast on a CUDA GPU, fp32 on CPU. The run is reproducible for a given seed on one device.
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

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.reading.data import QAExample
from drqa_ng.reading.evaluate import ReaderEval, evaluate_reader
from drqa_ng.reading.features import Windows, answer_positions, make_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    max_length: int = 384
    stride: int = 128
    max_answer_len: int = 30
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    epochs: float = 2.0
    max_steps: int | None = None
    save_every: int = 100
    log_every: int = 10
    dev_limit: int | None = None
    seed: int = 13
    threads: int | None = None


@dataclass(frozen=True, slots=True)
class TrainResult:
    steps: int
    seconds: float
    final_loss: float
    best_step: int
    best_dev: ReaderEval | None


def build_features(
    tokenizer: object, examples: Sequence[QAExample], cfg: TrainConfig
) -> tuple[Windows, np.ndarray]:
    """Windows of every example plus (start, end) token targets (0, 0 where the answer is outside)."""
    win = make_windows(
        tokenizer, [e.question for e in examples], [e.context for e in examples], cfg.max_length, cfg.stride
    )
    starts = [e.answer_starts[0] for e in examples]
    ends = [e.answer_starts[0] + len(e.answers[0]) for e in examples]
    return win, answer_positions(win, starts, ends)


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


def train_reader(
    train: Sequence[QAExample],
    dev: Sequence[QAExample],
    out: Path,
    base: Path,
    cfg: TrainConfig,
) -> TrainResult:
    """Fine-tune a span model from the encoder folder ``base`` on ``train``; evaluate on ``dev`` at checkpoints."""
    import torch
    from tqdm import tqdm

    from drqa_ng.reading.model import (
        MODEL_KIND,
        SpanModel,
        init_model,
        load_model,
        load_tokenizer,
        save_model,
    )
    from drqa_ng.reading.reader import ReaderSettings, torch_reader

    if not train:
        raise InputError("no training examples")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    tokenizer = load_tokenizer(base)
    # a trained reader folder (our manifest) continues training, head included; an HF encoder starts fresh
    base_manifest = Path(base) / "manifest.json"
    prior = json.loads(base_manifest.read_text()) if base_manifest.is_file() else {}
    resumed = prior.get("kind") == MODEL_KIND
    model: SpanModel = (load_model(base) if resumed else init_model(base)).to(device)
    t0 = time.perf_counter()
    win, targets = build_features(tokenizer, train, cfg)
    lengths = win.attention_mask.sum(axis=1)
    log.info("%d examples -> %d windows in %.1fs", len(train), len(win), time.perf_counter() - t0)
    per_epoch = math.ceil(len(win) / cfg.batch_size)
    total = cfg.max_steps if cfg.max_steps is not None else max(1, int(per_epoch * cfg.epochs))

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
    info = {
        "base_encoder": str(prior.get("base_encoder", base)) if resumed else str(base),
        "continued_from": {"folder": str(base), "steps": prior.get("steps")} if resumed else None,
        "train_examples": len(train),
        "train_windows": len(win),
        "max_length": cfg.max_length,
        "stride": cfg.stride,
        "max_answer_len": cfg.max_answer_len,
        "train_config": asdict(cfg),
    }
    # an evenly spaced dev sample covers every article, unlike the first N questions
    dev_items = (
        list(dev)[:: max(1, len(dev) // cfg.dev_limit)][: cfg.dev_limit] if cfg.dev_limit else list(dev)
    )
    stack = contextlib.ExitStack()
    # closed by `with stack` below; the checkpoint closure needs it before the loop starts
    logf = stack.enter_context(open(out / "log.jsonl", "a", encoding="utf-8"))  # noqa: SIM115
    use_amp = device.type == "cuda"
    best_f1, best_step, best_eval = -1.0, 0, None
    step, loss_avg = 0, float("nan")
    batches: list[np.ndarray] = []
    bar = stack.enter_context(tqdm(total=total, desc="train-reader", unit="step"))

    def checkpoint() -> None:
        nonlocal best_f1, best_step, best_eval
        model.eval()
        res = None
        if dev_items:
            res, _ = evaluate_reader(torch_reader(model, tokenizer, settings), dev_items)
            logf.write(json.dumps({"step": step, "dev": asdict(res)}) + "\n")
            logf.flush()
            log.info("step %d: dev EM %.2f F1 %.2f", step, res.exact_match, res.f1)
        fields = {**info, "steps": step, "dev_eval": asdict(res) if res else None}
        save_model(model, base, out / "last", **fields)
        if res is None or res.f1 > best_f1:
            best_f1, best_step, best_eval = (res.f1 if res else 0.0), step, res
            save_model(model, base, out / "model", **fields)
        model.train()

    model.train()
    with stack:
        while step < total:
            if not batches:
                batches = bucketed_batches(lengths, cfg.batch_size, rng)
            idx = batches.pop()
            b = win.rows(idx)
            tgt = torch.as_tensor(targets[idx], device=device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                s, e = model(
                    torch.as_tensor(b.input_ids, device=device),
                    torch.as_tensor(b.attention_mask, device=device),
                    torch.as_tensor(b.token_type_ids, device=device),
                )
            s = s.float().masked_fill(torch.as_tensor(b.attention_mask == 0, device=device), -1e4)
            e = e.float().masked_fill(torch.as_tensor(b.attention_mask == 0, device=device), -1e4)
            ce = torch.nn.functional.cross_entropy
            loss = (ce(s, tgt[:, 0]) + ce(e, tgt[:, 1])) / 2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            lv = float(loss.item())
            loss_avg = lv if math.isnan(loss_avg) else 0.9 * loss_avg + 0.1 * lv
            bar.update(1)
            bar.set_postfix(loss=f"{loss_avg:.3f}")
            if step % cfg.log_every == 0 or step == total:
                logf.write(
                    json.dumps(
                        {
                            "step": step,
                            "loss": lv,
                            "loss_avg": loss_avg,
                            "lr": sched.get_last_lr()[0],
                            "elapsed_s": time.perf_counter() - t0,
                        }
                    )
                    + "\n"
                )
                logf.flush()
            if step % cfg.save_every == 0 or step == total:
                checkpoint()
    return TrainResult(step, time.perf_counter() - t0, loss_avg, best_step, best_eval)
