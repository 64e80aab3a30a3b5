"""Reader benchmark: EM/F1 and passages/s of torch fp32, ONNX fp32 and ONNX int8 on this CPU.

    python scripts/bench_reader.py --model RUN/model --onnx-fp32 RUN/onnx-fp32 --onnx-int8 RUN/onnx-int8 \
        --data ../shared/data/squad/dev-v1.1-part-A.json \
        --articles ../shared/data/squad/part-A-validation-articles.txt --limit 400 --threads 2

Throughput is measured on windows of exactly ``--tokens`` tokens (default 384: a question plus a
passage long enough to fill the window) through the full ``Reader.read`` path (tokenise, model,
decode; one window per question here, so one window per model call: ``read`` batches only the
windows of one question, so that answers never depend on the other questions). A second table times
the model alone on the same windows one per call against ``--batch-size`` per call (what mixing
questions' windows in one batch, the former batch-dependent path, would gain). Prints Markdown tables with ratios to the first row / comparator.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from drqa_ng.evaluation.datasets import load_questions, read_article_list
from drqa_ng.reading.evaluate import evaluate_reader
from drqa_ng.reading.features import make_windows
from drqa_ng.reading.reader import ReaderSettings, SpanReader, load_reader
from drqa_ng.types import Passage


def _long_passages(
    questions: list, tokenizer: object, tokens: int, n: int
) -> tuple[list[str], list[list[Passage]]]:
    """``n`` (question, passage) pairs whose single window is exactly ``tokens`` tokens long."""
    qs: list[str] = []
    ps: list[list[Passage]] = []
    i = 0
    while len(qs) < n:
        q = questions[i % len(questions)]
        text = q.context
        j = i + 1
        while len(tokenizer.encode(q.question, text)) < tokens:  # type: ignore[attr-defined]
            text += " " + questions[j % len(questions)].context
            j += 1
        first = make_windows(tokenizer, [q.question], [text], tokens, 0)
        text = text[: int(first.offsets[0, :, 1].max())]
        qs.append(q.question)
        ps.append([Passage(id=str(i), doc_id=str(i), title="", text=text, start=0, end=len(text))])
        i += 1
    return qs, ps


def _throughput(
    reader: SpanReader, qs: list[str], ps: list[list[Passage]], tokens: int, batch: int
) -> tuple[float, float]:
    """(passages per wall second, passages per CPU second of this process, all its threads)."""
    # one window per passage: the passages were built to fill exactly `tokens` tokens
    timed = SpanReader(
        reader.tokenizer, reader.logits_fn, ReaderSettings(tokens, 0, 30, batch), reader.backend
    )
    timed.read(qs[:batch], ps[:batch])  # warm-up (graph optimisation, allocator)
    t0, c0 = time.perf_counter(), time.process_time()
    timed.read(qs, ps)
    return len(qs) / (time.perf_counter() - t0), len(qs) / (time.process_time() - c0)


def _per_window_vs_batched(
    reader: SpanReader, qs: list[str], ps: list[list[Passage]], tokens: int, batch: int
) -> tuple[float, float]:
    """Model-only windows per CPU-second: (one window per call, ``batch`` windows per call)."""
    win = make_windows(reader.tokenizer, qs, [p[0].text for p in ps], tokens, 0)
    n = len(win)
    single = [win.rows(np.array([r])) for r in range(n)]
    batched = [win.rows(np.arange(b, min(b + batch, n))) for b in range(0, n, batch)]
    rates = []
    for chunks in (single, batched):
        reader.logits_fn(chunks[0])  # warm-up for this shape
        c0 = time.process_time()
        for w in chunks:
            reader.logits_fn(w)
        rates.append(n / (time.process_time() - c0))
    return rates[0], rates[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="torch model folder")
    ap.add_argument("--onnx-fp32", type=Path)
    ap.add_argument("--onnx-int8", type=Path)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--articles", type=Path)
    ap.add_argument("--limit", type=int, help="evenly spaced sample of questions for EM/F1 (0 = skip EM/F1)")
    ap.add_argument("--tokens", type=int, default=384)
    ap.add_argument("--passages", type=int, default=64, help="passages timed per backend")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    titles = read_article_list(args.articles) if args.articles else None
    questions = [q for q in load_questions(args.data, titles) if q.answers and q.context]
    sample = questions
    if args.limit:
        sample = questions[:: max(1, len(questions) // args.limit)][: args.limit]
    rows = []
    model_rows: list[tuple[str, float, float]] = []
    base_pps = None
    for name, folder, backend in (
        ("torch fp32", args.model, "torch"),
        ("ONNX fp32", args.onnx_fp32, "onnx"),
        ("ONNX int8", args.onnx_int8, "onnx"),
    ):
        if folder is None:
            continue
        reader = load_reader(folder, backend=backend, batch_size=args.batch_size, threads=args.threads)
        em = f1 = float("nan")
        if args.limit != 0:
            res, _ = evaluate_reader(reader, sample)
            em, f1 = res.exact_match, res.f1
        qs, ps = _long_passages(questions, reader.tokenizer, args.tokens, args.passages)
        pps, per_cpu = _throughput(reader, qs, ps, args.tokens, args.batch_size)
        base_pps = base_pps or per_cpu
        size = sum(f.stat().st_size for f in Path(folder).iterdir() if "model" in f.name)
        rows.append((name, em, f1, pps, per_cpu, per_cpu / base_pps, size / 2**20))
        one, many = _per_window_vs_batched(reader, qs, ps, args.tokens, args.batch_size)
        model_rows.append((name, one, many))
    load = os.getloadavg()[0]
    n = len(sample) if args.limit != 0 else 0
    print(f"\n{n} questions from {args.data.name}" + (f" ({args.articles.name})" if args.articles else ""))
    print(
        f"throughput: {args.passages} passages of {args.tokens} tokens, batch {args.batch_size}, "
        f"{args.threads} threads, 1-min load average at the end {load:.1f} (CPU shared)\n"
    )
    # on a shared machine wall-clock rates mostly measure the neighbours; CPU-second rates do not
    print("| model | EM | F1 | passages/s (wall) | passages per CPU-s | CPU speed vs first | model MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, em, f1, pps, per_cpu, ratio, mib in rows:
        print(f"| {name} | {em:.2f} | {f1:.2f} | {pps:.1f} | {per_cpu:.1f} | {ratio:.2f}x | {mib:.1f} |")
    print(f"\nmodel only, same windows: one per call vs {args.batch_size} per call (windows per CPU-s)\n")
    print(f"| model | one window per call | {args.batch_size} per call | ratio |")
    print("|---|---:|---:|---:|")
    for name, one, many in model_rows:
        print(f"| {name} | {one:.1f} | {many:.1f} | {one / many:.2f}x |")


if __name__ == "__main__":
    main()
