"""Would a small trained cross-encoder rank the candidate paragraphs better than the retriever? (issue 21)

A probe, not a shipped stage. Two steps, both cached under ``--out``:

1. **mine**: for every question of each set's tune half (``drqa_ng.evaluation.splits``) and the
   300-question samples of both halves, the home's default retriever's top ``--depth`` paragraphs and
   whether each holds an answer (DPR's ``has_answer``; CuratedTREC by regex). The tune half's
   300-question sample is **val** (for choosing), the rest of the tune half **train** (at most
   ``--train-limit`` a set); the test half's sample is **test** (for reporting).
2. **train**: the shipped reader's first ``--layers`` transformer layers (dequantised from its int8
   ONNX: it was trained on ``question [SEP] passage`` pairs) + a linear head on [CLS], trained with a
   listwise loss: per question one answer-bearing paragraph and ``--group`` - 1 answer-free ones of
   the same top ``--depth``, softmax cross-entropy on the positive,

       loss = -log( exp(s_pos) / Σ_{p in group} exp(s_p) )

   Every ``--eval-every`` steps it prints top-1 / top-5 recall of the first ``--eval-n`` val and test
   questions a set, in the retriever's order (``w=None``) and ordered by ``s_p + w · norm_p`` for
   each w of ``WEIGHTS`` (``norm``: the retriever's [0, 1] score).

    python scripts/probe_cross_reranker.py --home H --out O [--depth 30] [--layers 2]

Measured 2026-12-07 (docs/retrieval.md, "What is not done"): no gain worth a model call per candidate.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.config import base_encoder_dir, shared_data_dir
from drqa_ng.evaluation.metrics import passage_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, load_halves, sampled_halves
from drqa_ng.pipeline import QAPipeline
from drqa_ng.reading.reader import default_weights_dir

log = logging.getLogger("probe_cross_reranker")
WEIGHTS = (None, 0.0, 1.0, 2.0, 4.0, 8.0)
PARTS = ("train", "val", "test")

Row = dict[str, Any]  # {"id", "q", "p": [[passage id, title, text, norm, has_answer], ...]}


def mine(home: Path, out: Path, depth: int, train_limit: int) -> None:
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA"
    pipe = QAPipeline.from_home(home)
    samples = sampled_halves(data, 300)
    for name in SETS:
        halves = load_halves(data, name)
        val_ids = {q.id for q in samples[name]["tune"]}
        train = [q for q in halves["tune"] if q.id not in val_ids]
        random.Random(1).shuffle(train)
        parts = {"val": samples[name]["tune"], "test": samples[name]["test"], "train": train[:train_limit]}
        for part, qs in parts.items():
            path = out / f"{name}-{part}.jsonl.gz"
            if path.exists():
                continue
            t0 = time.perf_counter()
            tmp = path.with_suffix(".tmp")
            with gzip.open(tmp, "wt") as fh:
                for lo in range(0, len(qs), 16):
                    batch = qs[lo : lo + 16]
                    for q, ev in zip(batch, pipe.retrieve([q.question for q in batch], k=depth), strict=True):
                        p = [
                            [e.passage.id, e.passage.title, e.passage.text, round(e.norm, 4),
                             passage_match(e.passage.text, q.answers, name in REGEX_SETS)]
                            for e in ev
                        ]  # fmt: skip
                        fh.write(json.dumps({"id": q.id, "q": q.question, "p": p}) + "\n")
            tmp.rename(path)
            log.info("mined %s %s: %d questions, %.0f s", name, part, len(qs), time.perf_counter() - t0)


def load_rows(out: Path, name: str, part: str) -> list[Row]:
    with gzip.open(out / f"{name}-{part}.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


def recall(rows: list[Row], scores: list[np.ndarray], w: float | None, k: int) -> float:
    """Top-k recall (%) in the retriever's order (w None) or by score + w · norm."""
    hit = 0
    for r, s in zip(rows, scores, strict=True):
        y = np.array([p[4] for p in r["p"]], bool)
        if not len(y):
            continue
        order = np.arange(len(y))
        if w is not None:
            order = np.argsort(-(s + w * np.array([p[3] for p in r["p"]])), kind="stable")
        hit += bool(y[order][:k].any())
    return 100.0 * hit / max(len(rows), 1)


def train(args: argparse.Namespace) -> None:
    import torch
    from torch import nn
    from transformers import AutoTokenizer

    from drqa_ng.reading.onnx_io import model_from_onnx

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    weights = default_weights_dir()
    tok = AutoTokenizer.from_pretrained(str(weights))
    encoder = model_from_onnx(weights, base_encoder_dir()).encoder
    encoder.encoder.layer = encoder.encoder.layer[: args.layers]
    encoder.config.num_hidden_layers = args.layers
    head = nn.Linear(encoder.config.hidden_size, 1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    params = list(encoder.parameters()) + list(head.parameters())

    def score(qs: list[str], ps: list[list[Any]]) -> Any:
        b = tok(qs, [f"{p[1]}: {p[2]}" for p in ps], truncation="only_second", max_length=args.max_len,
                padding=True, return_tensors="pt")  # fmt: skip
        tt = b.get("token_type_ids", torch.zeros_like(b["input_ids"]))
        h = encoder(input_ids=b["input_ids"], attention_mask=b["attention_mask"], token_type_ids=tt)
        return head(h.last_hidden_state[:, 0]).squeeze(-1)

    train_rows = [r for n in SETS for r in load_rows(args.out, n, "train")]
    groups = [r for r in train_rows if any(p[4] for p in r["p"]) and not all(p[4] for p in r["p"])]
    evals = {(n, part): load_rows(args.out, n, part)[: args.eval_n] for n in SETS for part in ("val", "test")}
    steps = int(args.epochs * len(groups) / args.batch)
    log.info(
        "%d train questions, %d with both kinds of paragraph: %d steps", len(train_rows), len(groups), steps
    )

    def evaluate(step: int) -> None:
        encoder.eval()
        with torch.no_grad():
            scored = {key: [score([r["q"]] * len(r["p"]), r["p"]).numpy() if r["p"] else np.zeros(0) for r in rows]
                      for key, rows in evals.items()}  # fmt: skip
        encoder.train()
        for part in ("val", "test"):
            for w in WEIGHTS:
                r1 = [recall(evals[(n, part)], scored[(n, part)], w, 1) for n in SETS]
                r5 = [recall(evals[(n, part)], scored[(n, part)], w, 5) for n in SETS]
                sets = " ".join(f"{n[:4]} {a:.1f}/{b:.1f}" for n, a, b in zip(SETS, r1, r5, strict=True))
                print(f"step {step} {part} w={w}: mean R@5 {np.mean(r5):.2f} | {sets}", flush=True)

    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(int(0.06 * steps), 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(steps - warm, 1))
    )
    order: list[int] = []
    t0, total = time.perf_counter(), 0.0
    for step in range(1, steps + 1):
        if len(order) < args.batch:
            order += rng.sample(range(len(groups)), len(groups))
        idx, order = order[: args.batch], order[args.batch :]
        qs: list[str] = []
        ps: list[list[Any]] = []
        for i in idx:
            pos = [p for p in groups[i]["p"] if p[4]]
            neg = [p for p in groups[i]["p"] if not p[4]]
            g = [rng.choice(pos), *rng.sample(neg, min(len(neg), args.group - 1))]
            g += [rng.choice(neg) for _ in range(args.group - len(g))]
            qs += [groups[i]["q"]] * len(g)
            ps += g
        logits = score(qs, ps).view(args.batch, args.group)
        loss = nn.functional.cross_entropy(logits, torch.zeros(args.batch, dtype=torch.long))
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        total += float(loss.item())
        if step % 50 == 0:
            el = time.perf_counter() - t0
            log.info("step %d/%d loss %.3f, %.2f s/step", step, steps, total / 50, el / step)
            total = 0.0
        if step % args.eval_every == 0 or step == steps:
            evaluate(step)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--train-limit", type=int, default=3000)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-len", type=int, default=160)
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    mine(args.home, args.out, args.depth, args.train_limit)
    train(args)


if __name__ == "__main__":
    main()
