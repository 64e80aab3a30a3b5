"""Fine-tune a retrieval encoder on question → paragraph pairs: in-batch + hard negatives (DPR-style).

Two kinds of encoder, one loss and one loop:

- ``transformer``: a BERT-style sentence encoder (the shipped all-MiniLM-L6-v2), mean pooling, shared
  between questions and paragraphs, as ``retrieval.encoder.Encoder`` runs it. bf16 autocast where the
  CPU has native bf16 (``reading.model.bf16_is_fast``) or on a GPU. The tuned folder is a Hugging Face
  model folder ``--encoder`` takes, and ``static.distill_static`` re-distils a static model from.
- ``static``: the Model2Vec table itself (``retrieval.static``): a text's vector is the mean of its
  tokens' rows, so the table trains directly with the same loss, in minutes on a CPU. An L2 pull
  towards the distilled table keeps rare tokens (few or no training questions) where they were.

Loss (``info_nce``): each question's positive competes with every other positive and every hard
negative in the batch (Karpukhin et al. 2020; Henderson et al. 2017's multiple-negatives ranking).
Runs are resumable (``RUN/ckpt``, ``reading.checkpoint``), log JSON lines to ``RUN/log.jsonl`` and
keep the best model on held-out pairs (mean reciprocal rank of the positive among all held-out
texts) in ``RUN/model``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from drqa_ng.errors import InputError, NotFoundError
from drqa_ng.index_io import atomic_dir
from drqa_ng.retrieval.pairs import TrainPair, dev_fold

log = logging.getLogger(__name__)

Kind = Literal["transformer", "static"]
KINDS: tuple[Kind, ...] = ("transformer", "static")


@dataclass(frozen=True, slots=True)
class TuneConfig:
    """Settings of one tuning run (recorded in ``RUN/run.json``; a resumed run must match)."""

    kind: Kind = "static"
    epochs: float = 2.0
    batch_size: int = 64
    negatives: int = 1  # hard negatives per question used in a batch (from each pair's list)
    lr: float = 1e-3
    warmup: float = 0.05
    scale: float = 20.0  # 1 / temperature of the softmax over cosine similarities
    anchor: float = 0.0  # static: weight of Σ_rows ‖E_r − E⁰_r‖² (L2-SP pull towards the start)
    query_max_length: int = 64
    max_length: int = 256
    dev_share: float = 0.03
    dev_limit: int | None = None  # held-out pairs scored at each evaluation (None: all)
    eval_every: int = 200
    save_minutes: float = 10.0
    max_steps: int | None = None
    threads: int | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TuneResult:
    out: Path
    model: Path
    steps: int
    best_step: int
    best_mrr: float
    start_mrr: float


def info_nce(q: Any, p: Any, scale: float) -> Any:
    """Mean multiple-negatives ranking loss over a batch.

    loss = −(1/B) Σ_i log( exp(s·cos(q_i, p_i)) / Σ_j exp(s·cos(q_i, p_j)) )

    ``q`` is (B, d), ``p`` is (B + N, d): rows 0..B−1 are the questions' positives (row i belongs to
    question i), the N rows after them are hard negatives shared by the whole batch; both are L2
    normalised here, so q·p is the cosine; ``s`` is ``scale`` (1/temperature).
    """
    import torch
    import torch.nn.functional as F

    qn = F.normalize(q.float(), dim=-1)
    pn = F.normalize(p.float(), dim=-1)
    logits = scale * qn @ pn.T
    return F.cross_entropy(logits, torch.arange(q.shape[0], device=q.device))


def reciprocal_ranks(q: np.ndarray, p: np.ndarray, n_pos: int) -> np.ndarray:
    """Per question i: 1 / rank of its positive p[i] among all rows of ``p`` by cosine (rank 1 = best).

    ``q`` (B, d) and ``p`` (M, d) with M ≥ B = ``n_pos``; rows need not be normalised. Ties count
    against the positive (rank = 1 + number of rows scoring ≥ it, itself excluded).
    """
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    pn = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
    s = qn @ pn.T
    own = s[np.arange(n_pos), np.arange(n_pos)]
    rank = (s >= own[:, None]).sum(axis=1)  # includes itself
    return np.asarray(1.0 / rank, dtype=np.float64)


class _StaticModel:
    """The static table as a torch parameter; ``encode`` = mean of token rows (EmbeddingBag)."""

    def __init__(self, folder: Path) -> None:
        import torch
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from drqa_ng.retrieval.static import WEIGHTS_FILE, read_table

        if not (folder / WEIGHTS_FILE).is_file():
            raise NotFoundError(f"static model folder not found (no {WEIGHTS_FILE}): {folder}")
        table = read_table(load_file(str(folder / WEIGHTS_FILE)))
        if table is None:
            raise NotFoundError(f"{folder}/{WEIGHTS_FILE} holds no static table")
        self.folder = folder
        self.module = torch.nn.EmbeddingBag.from_pretrained(
            torch.from_numpy(table), freeze=False, mode="mean"
        )
        self.start = torch.from_numpy(table.copy())
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def tokenize(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        encs = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids[:max_length] or [0] for e in encs]

    def encode(self, ids: Sequence[Sequence[int]]) -> Any:
        import torch

        flat = torch.tensor([t for row in ids for t in row], dtype=torch.long)
        offsets = torch.tensor(np.cumsum([0, *[len(r) for r in ids[:-1]]]), dtype=torch.long)
        return self.module(flat, offsets)

    def parameters(self) -> list[Any]:
        return list(self.module.parameters())

    def penalty(self, anchor: float) -> Any:
        if anchor <= 0:
            return 0.0
        w = self.module.weight
        return anchor * ((w - self.start) ** 2).sum()  # L2-SP: anchor · Σ_rows ‖E_r − E⁰_r‖²

    def state_dict(self) -> dict[str, Any]:
        return {"embeddings": self.module.weight}

    def load_state_dict(self, tensors: dict[str, Any]) -> None:
        import torch

        with torch.no_grad():
            self.module.weight.copy_(tensors["embeddings"])

    def save(self, out: Path) -> None:
        from safetensors.numpy import save_file

        with atomic_dir(out) as tmp:
            table = self.module.weight.detach().cpu().numpy().astype(np.float16)
            save_file({"embeddings": table}, str(tmp / "model.safetensors"))
            for name in ("tokenizer.json", "config.json", "modules.json"):
                if (self.folder / name).is_file():
                    shutil.copy2(self.folder / name, tmp / name)


class _TransformerModel:
    """A Hugging Face encoder with mean pooling (the ``Encoder``'s function, trainable)."""

    def __init__(self, folder: Path, bf16: bool) -> None:
        from transformers import AutoModel, AutoTokenizer

        if not (folder / "config.json").is_file():
            raise NotFoundError(f"encoder model folder not found: {folder}")
        self.folder = folder
        self.bf16 = bf16
        self.module = AutoModel.from_pretrained(str(folder), local_files_only=True)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

    def tokenize(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=max_length)
        return [list(x) for x in enc["input_ids"]]

    def encode(self, ids: Sequence[Sequence[int]]) -> Any:
        import torch

        batch = self.tokenizer.pad({"input_ids": [list(r) for r in ids]}, return_tensors="pt")
        input_ids, mask = batch["input_ids"], batch["attention_mask"]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            hidden = self.module(input_ids=input_ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return ((hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)).float()

    def parameters(self) -> list[Any]:
        return list(self.module.parameters())

    def penalty(self, anchor: float) -> Any:
        return 0.0

    def state_dict(self) -> dict[str, Any]:
        return dict(self.module.state_dict())

    def load_state_dict(self, tensors: dict[str, Any]) -> None:
        self.module.load_state_dict(tensors)

    def save(self, out: Path) -> None:
        with atomic_dir(out) as tmp:
            self.module.save_pretrained(str(tmp))
            self.tokenizer.save_pretrained(str(tmp))


@dataclass
class _Tokens:
    q: list[list[int]]
    pos: list[list[int]]
    neg: list[list[list[int]]]


def _tokenize_pairs(
    model: _StaticModel | _TransformerModel, pairs: Sequence[TrainPair], cfg: TuneConfig
) -> _Tokens:
    q = model.tokenize([p.question for p in pairs], cfg.query_max_length)
    pos = model.tokenize([p.positive for p in pairs], cfg.max_length)
    flat = [t for p in pairs for t in p.negatives[: cfg.negatives]]
    flat_ids = model.tokenize(flat, cfg.max_length) if flat else []
    neg: list[list[list[int]]] = []
    i = 0
    for p in pairs:
        n = len(p.negatives[: cfg.negatives])
        neg.append(flat_ids[i : i + n])
        i += n
    return _Tokens(q, pos, neg)


def _dev_mrr(model: _StaticModel | _TransformerModel, dev: _Tokens, batch: int = 128) -> float:
    """Mean reciprocal rank of each held-out question's positive among every held-out positive and
    hard negative (a small retrieval task over a few thousand texts)."""
    import torch

    def enc(rows: list[list[int]]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for a in range(0, len(rows), batch):
                out.append(model.encode(rows[a : a + batch]).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)

    q = enc(dev.q)
    texts = dev.pos + [t for ns in dev.neg for t in ns]
    p = enc(texts)
    return float(reciprocal_ranks(q, p, len(dev.q)).mean())


def tune_encoder(
    pairs: Sequence[TrainPair], base: Path, out: Path, cfg: TuneConfig, progress: bool = True
) -> TuneResult:
    """Train ``base`` (a static model folder or a transformer folder, per ``cfg.kind``) on ``pairs``
    into the run folder ``out``; resumes from ``out/ckpt`` when present. Returns the best model's path."""
    import torch
    from tqdm import tqdm

    from drqa_ng.reading.checkpoint import LoopPosition, has_state, load_state, lock_run, save_state

    if cfg.kind not in KINDS:
        raise InputError(f"unknown encoder kind {cfg.kind!r}; choose from {', '.join(KINDS)}")
    if cfg.batch_size < 2:
        raise InputError("batch size must be >= 2 (in-batch negatives)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = lock_run(out)
    try:
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        run_json = out / "run.json"
        fingerprint = {"config": asdict(cfg), "base": str(Path(base).resolve()), "pairs": len(pairs)}
        if has_state(out / "ckpt") and run_json.is_file():
            old = json.loads(run_json.read_text())
            if old != fingerprint:
                raise InputError(f"{out} holds a run with other settings; use a new folder or the same ones")
        run_json.write_text(json.dumps(fingerprint, indent=2) + "\n")

        if cfg.kind == "static":
            model: _StaticModel | _TransformerModel = _StaticModel(Path(base))
        else:
            from drqa_ng.reading.model import bf16_is_fast

            model = _TransformerModel(Path(base), bf16_is_fast("cpu"))
        train = [p for p in pairs if not dev_fold(p.id, cfg.dev_share)]
        dev = [p for p in pairs if dev_fold(p.id, cfg.dev_share)]
        if cfg.dev_limit is not None:
            dev = random.Random(cfg.seed).sample(dev, min(cfg.dev_limit, len(dev)))
        if not train or not dev:
            raise InputError(f"need training and held-out pairs; got {len(train)} / {len(dev)}")
        t0 = time.perf_counter()
        tok = _tokenize_pairs(model, train, cfg)
        dev_tok = _tokenize_pairs(model, dev, cfg)
        log.info(
            "tokenised %d train / %d held-out pairs in %.1f s", len(train), len(dev), time.perf_counter() - t0
        )

        per_epoch = len(train) // cfg.batch_size
        total = max(1, math.ceil(per_epoch * cfg.epochs))
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        params = model.parameters()
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0 if cfg.kind == "static" else 0.01)
        warm = max(1, int(cfg.warmup * total))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm))
        )
        pos = LoopPosition(0, 0, 0)
        extra: dict[str, Any] = {}
        logp = out / "log.jsonl"
        if has_state(out / "ckpt"):
            pos, extra = load_state(out / "ckpt", model, opt, sched)
            log.info("resumed %s at step %d of %d", out, pos.step, total)
        best_mrr = float(extra.get("best_mrr", -1.0))
        best_step = int(extra.get("best_step", 0))
        start_mrr = float(extra.get("start_mrr", float("nan")))
        if pos.step == 0:
            start_mrr = best_mrr = _dev_mrr(model, dev_tok)
            model.save(out / "model")
            with logp.open("a") as f:
                f.write(json.dumps({"step": 0, "dev_mrr": start_mrr}) + "\n")
            log.info("start: held-out MRR %.4f over %d pairs", start_mrr, len(dev))

        step, epoch, batch_i = pos.step, pos.epoch, pos.batch
        last_save = time.monotonic()
        bar = tqdm(total=total, initial=step, desc="train-encoder", unit="step", disable=not progress)
        loss_avg = float(extra.get("loss_avg", float("nan")))
        while step < total:
            order = np.random.default_rng(cfg.seed + epoch).permutation(len(train))
            while batch_i < per_epoch and step < total:
                idx = order[batch_i * cfg.batch_size : (batch_i + 1) * cfg.batch_size]
                qv = model.encode([tok.q[i] for i in idx])
                texts = [tok.pos[i] for i in idx] + [t for i in idx for t in tok.neg[i]]
                pv = model.encode(texts)
                loss = info_nce(qv, pv, cfg.scale) + model.penalty(cfg.anchor)
                opt.zero_grad()
                loss.backward()
                if cfg.kind == "transformer":
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                step += 1
                batch_i += 1
                val = float(loss.item())
                loss_avg = val if math.isnan(loss_avg) else 0.95 * loss_avg + 0.05 * val
                bar.update(1)
                bar.set_postfix(loss=f"{loss_avg:.3f}")
                row: dict[str, Any] = {
                    "step": step,
                    "epoch": epoch,
                    "loss": val,
                    "loss_avg": loss_avg,
                    "lr": sched.get_last_lr()[0],
                    "elapsed_s": time.perf_counter() - t0,
                }
                if step % cfg.eval_every == 0 or step == total:
                    mrr = _dev_mrr(model, dev_tok)
                    row["dev_mrr"] = mrr
                    if mrr > best_mrr:
                        best_mrr, best_step = mrr, step
                        model.save(out / "model")
                    log.info("step %d: held-out MRR %.4f (best %.4f at %d)", step, mrr, best_mrr, best_step)
                with logp.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                if time.monotonic() - last_save > 60 * cfg.save_minutes or step == total:
                    save_state(
                        out / "ckpt",
                        model,
                        opt,
                        sched,
                        LoopPosition(step, epoch, batch_i),
                        best_mrr=best_mrr,
                        best_step=best_step,
                        start_mrr=start_mrr,
                        loss_avg=loss_avg,
                    )
                    last_save = time.monotonic()
            if batch_i >= per_epoch:
                epoch, batch_i = epoch + 1, 0
        bar.close()
        result = TuneResult(out, out / "model", step, best_step, best_mrr, start_mrr)
        (out / "result.json").write_text(
            json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}, indent=2)
            + "\n"
        )
        return result
    finally:
        lock.close()
