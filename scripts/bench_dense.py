"""Benchmark the dense retrieval stack: encoder throughput and FAISS index trade-offs.

Part 1, encoding: passages/s of the bundled MiniLM encoder with torch fp32 and ONNX Runtime int8 on
CPU (and torch on CUDA when a GPU is present), on real SQuAD paragraphs when the shared data is
there (else synthetic text), max_length 256, plus the cosine agreement of int8 with fp32 vectors.

Part 2, indexes: seeded synthetic unit vectors (dim 384) at each size; for every factory the
build seconds (train + add), index bytes, single-query latency p50 and recall@10 against the exact
``Flat`` result, and ratios vs Flat. ``--data clustered`` (default) draws vectors around 1000
random centres, which gives ANN indexes structure to exploit as real embeddings do; ``--data
uniform`` is plain random unit vectors (a worst case for ANN recall).

    nice python scripts/bench_dense.py --sizes 100000 1000000 --out /tmp/bench_dense.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from indexing.dense import build_faiss


@dataclass(frozen=True)
class IndexRow:
    n: int
    factory: str
    params: str
    build_s: float
    bytes: int
    p50_ms: float
    recall10: float


def sample_texts(n: int) -> list[str]:
    """Real SQuAD dev paragraphs when the shared data is present, else synthetic sentences."""
    from drqa_ng.config import shared_data_dir

    d = shared_data_dir()
    squad = d / "squad" / "dev-v1.1-part-A.json" if d else None
    texts: list[str] = []
    if squad is not None and squad.is_file():
        data = json.loads(squad.read_text())
        for art in data["data"]:
            for para in art["paragraphs"]:
                texts.append(f"{art['title']}\n{para['context']}")
    if not texts:
        rng = np.random.default_rng(0)
        words = [
            "the",
            "of",
            "river",
            "mountain",
            "city",
            "war",
            "king",
            "science",
            "music",
            "film",
            "team",
            "language",
            "planet",
        ]
        texts = [" ".join(rng.choice(words, size=120)) for _ in range(n)]
    while len(texts) < n:
        texts += texts
    return texts[:n]


def bench_encoders(n: int, threads: int, batch_size: int) -> tuple[list[tuple[str, str]], str]:
    import torch

    from drqa_ng.retrieval.encoder import Encoder

    texts = sample_texts(n)
    rows: list[tuple[str, str]] = []
    vecs = {}
    configs: list[tuple[str, str, str]] = [
        ("torch fp32 CPU", "torch", "cpu"),
        ("onnx int8 CPU", "onnx-int8", "cpu"),
    ]
    for label, backend, device in configs:
        enc = Encoder.load(device=device, backend=backend, threads=threads)  # type: ignore[arg-type]
        enc.encode(texts[:batch_size], batch_size=batch_size)  # warm-up (allocations, ORT graph)
        t = time.perf_counter()
        vecs[backend] = enc.encode(texts, batch_size=batch_size, max_length=256)
        dt = time.perf_counter() - t
        rows.append((label, f"{n / dt:.1f}"))
    if torch.cuda.is_available():
        enc = Encoder.load(device="cuda")
        enc.encode(texts[:batch_size])
        t = time.perf_counter()
        enc.encode(texts, batch_size=256, max_length=256)
        rows.append(("torch fp32 GPU", f"{n / (time.perf_counter() - t):.1f}"))
    else:
        rows.append(("torch fp32 GPU", "n/a (no GPU)"))
    cos = (vecs["torch"] * vecs["onnx-int8"]).sum(axis=1)
    agree = f"int8 vs fp32 cosine: mean {cos.mean():.4f}, min {cos.min():.4f}"
    return rows, agree


def make_vectors(n: int, dim: int, seed: int, data: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if data == "uniform":
        x = rng.standard_normal((n, dim), dtype=np.float32)
    else:
        centres = rng.standard_normal((1000, dim), dtype=np.float32)
        x = centres[rng.integers(0, 1000, size=n)] + 0.6 * rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def index_bytes(index: Any) -> int:
    import faiss

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "i.faiss")
        faiss.write_index(index, p)
        return os.path.getsize(p)


def p50_latency_ms(index: Any, queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    times, rows = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        times.append(time.perf_counter() - t)
        rows.append(ids[0])
    return float(np.median(times) * 1000), np.vstack(rows)


def bench_index(
    n: int, factory: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray | None, k: int = 10
) -> tuple[IndexRow, np.ndarray]:
    import faiss

    chunk = 100_000
    loaders = [lambda a=a: base[a : a + chunk] for a in range(0, n, chunk)]
    t = time.perf_counter()
    index = build_faiss(factory, base.shape[1], loaders, n, seed=0)
    build_s = time.perf_counter() - t
    params = []
    if "IVF" in factory:
        nprobe = 32
        faiss.ParameterSpace().set_index_parameter(index, "nprobe", nprobe)
        params.append(f"nprobe={nprobe}")
    if "HNSW" in factory:
        ef = 64
        faiss.ParameterSpace().set_index_parameter(index, "efSearch", ef)
        params.append(f"efSearch={ef}")
    p50, found = p50_latency_ms(index, queries, k)
    if truth is None:
        truth = found
    recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth, strict=True)]))
    row = IndexRow(n, factory, ",".join(params) or "-", build_s, index_bytes(index), p50, recall)
    print(f"  {row}", file=sys.stderr, flush=True)
    return row, truth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", type=int, nargs="*", default=[100_000], help="vector counts (none = encoders only)"
    )
    ap.add_argument(
        "--factories",
        nargs="+",
        default=["HNSW32", "IVF-PQ", "HNSW32,SQ8"],
        help='"IVF-PQ" means IVF<nlist>,PQ48 with nlist 1024 at <=300k vectors, 4096 above',
    )
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--data", choices=["clustered", "uniform"], default="clustered")
    ap.add_argument("--encode-n", type=int, default=512, help="passages for the encoder benchmark (0 = skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args()

    import faiss

    faiss.omp_set_num_threads(args.threads)
    lines = [f"# Dense retrieval benchmark ({args.threads} CPU threads, faiss {faiss.__version__})", ""]
    if args.encode_n:
        enc_rows, agree = bench_encoders(args.encode_n, args.threads, 64)
        lines += [
            f"## Encoding ({args.encode_n} passages, max_length 256, batch 64)",
            "",
            "| encoder | passages/s |",
            "|---|---|",
        ]
        lines += [f"| {a} | {b} |" for a, b in enc_rows] + ["", agree, ""]
        print("\n".join(lines), file=sys.stderr, flush=True)
    lines += (
        []
        if not args.sizes
        else [
            f"## Indexes ({args.data} unit vectors, dim 384, seed 0; {args.queries} single queries, k=10)",
            "",
            "| vectors | factory | search params | build s | bytes | p50 ms | recall@10 vs Flat "
            "| bytes / Flat | p50 / Flat |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    )
    for n in args.sizes:
        x = make_vectors(n + args.queries, 384, 0, args.data)
        base, queries = x[:n], x[n:]
        flat, truth = bench_index(n, "Flat", base, queries, None)
        rows: list[IndexRow] = [flat]
        for f in args.factories:
            factory = f"IVF{1024 if n <= 300_000 else 4096},PQ48" if f == "IVF-PQ" else f
            rows.append(bench_index(n, factory, base, queries, truth)[0])
        for r in rows:
            lines.append(
                f"| {r.n:,} | {r.factory} | {r.params} | {r.build_s:.1f} | {r.bytes:,} | {r.p50_ms:.2f} "
                f"| {r.recall10:.3f} | {r.bytes / flat.bytes:.3g} | {r.p50_ms / flat.p50_ms:.3g} |"
            )
        del x, base
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
