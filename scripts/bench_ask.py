"""Benchmark end-to-end QA: questions/s and p50/p95 latency of ``QAPipeline.ask`` and of ``POST /v1/ask``.

Direct: questions one at a time (true latency) and in batches (throughput). HTTP: the app from
``serving.app.create_app`` under uvicorn on a free 127.0.0.1 port in a thread of this process;
``--clients`` concurrent loopback clients (default 1, 8, 64) send ``--requests`` single-question
requests in all (bounded, so the run stops by itself; each request has a timeout). Prints a
Markdown table. Client, server and model share this process and its cores, as on a small box.

Cold start: ``--cold N`` also runs ``drqa-ng ask "QUESTION"`` N times as a fresh process (wall time
and CPU time of the child, median) on the same pipeline, against the same command with torch and
transformers imported first (what every ask paid before the ONNX path stopped importing them).
``--cold-only`` skips the warm runs.

    python scripts/bench_ask.py --home drqa_ng_data --questions ../shared/data/qa/webquestions-train.jsonl
    python scripts/bench_ask.py --index IDX --docs DOCS --cold 5 --cold-only
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drqa_ng.cli.options import add_pipeline_options, pipeline_settings
from drqa_ng.evaluation.datasets import load_questions
from drqa_ng.pipeline import QAPipeline

DEFAULT_QUESTIONS = (
    "What is the capital of France?",
    "Who wrote Romeo and Juliet?",
    "When did World War II end?",
    "What is the largest planet in the solar system?",
    "Who painted the Mona Lisa?",
    "What language is spoken in Brazil?",
    "How many legs does a spider have?",
    "Who was the first president of the United States?",
)


@dataclass(frozen=True, slots=True)
class Row:
    mode: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int = 0

    @property
    def qps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def _row(mode: str, latencies: list[float], wall: float, errors: int = 0) -> Row:
    ms = np.asarray(latencies) * 1000.0
    p50 = float(np.percentile(ms, 50)) if len(ms) else 0.0
    p95 = float(np.percentile(ms, 95)) if len(ms) else 0.0
    return Row(mode, len(latencies), wall, p50, p95, errors)


def bench_direct(pipe: QAPipeline, questions: list[str], batch: int, top_n: int) -> Row:
    lat: list[float] = []
    t0 = time.perf_counter()
    for lo in range(0, len(questions), batch):
        chunk = questions[lo : lo + batch]
        t = time.perf_counter()
        pipe.ask(chunk, top_n=top_n)
        lat.extend([time.perf_counter() - t] * len(chunk))  # each question waits for its whole batch
    return _row(f"direct ask, batch {batch}", lat, time.perf_counter() - t0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _clients(
    url: str, questions: list[str], clients: int, total: int, top_n: int, timeout: float
) -> Row:
    import httpx

    lat: list[float] = []
    errors = 0
    next_i = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_i, errors
        while next_i < total:
            i = next_i
            next_i += 1
            t = time.perf_counter()
            try:
                r = await client.post(url, json={"question": questions[i % len(questions)], "top_n": top_n})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                lat.append(time.perf_counter() - t)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - t0
    return _row(f"HTTP /v1/ask, {clients} clients", lat, wall, errors)


def bench_http(
    pipe: QAPipeline, questions: list[str], clients: list[int], requests: int, top_n: int, timeout: float
) -> list[Row]:
    import uvicorn

    from serving.app import create_app
    from serving.settings import ServerSettings

    port = _free_port()
    app = create_app(ServerSettings(max_batch=64), pipeline=pipe)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{port}/v1/ask"
        return [asyncio.run(_clients(url, questions, c, max(requests, c), top_n, timeout)) for c in clients]
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def markdown(rows: list[Row]) -> str:
    """The table; ratios compare each row with the first (direct, one question at a time) of the same run."""
    lines = [
        "| mode | requests | wall s | questions/s | p50 ms | p95 ms | errors | q/s ÷ first | p50 ÷ first |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = rows[0] if rows else None
    for r in rows:
        qps_ratio = r.qps / base.qps if base and base.qps else float("nan")
        p50_ratio = r.p50_ms / base.p50_ms if base and base.p50_ms else float("nan")
        lines.append(
            f"| {r.mode} | {r.requests} | {r.seconds:.1f} | {r.qps:.2f} | {r.p50_ms:.0f} | {r.p95_ms:.0f} "
            f"| {r.errors} | {qps_ratio:.2f} | {p50_ratio:.2f} |"
        )
    return "\n".join(lines)


COLD_QUESTION = "Who wrote Hamlet?"
_HEAVY_FIRST = (
    "import sys, torch, transformers; from drqa_ng.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
_PLAIN = "import sys; from drqa_ng.cli.main import main; sys.exit(main(sys.argv[1:]))"


@dataclass(frozen=True, slots=True)
class ColdRow:
    mode: str
    runs: int
    wall_s: float
    cpu_s: float


def _pipeline_argv(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    for flag, value in (("--home", args.home), ("--docs", args.docs), ("--reader", args.reader)):
        if value is not None:
            out += [flag, str(value)]
    for idx in args.index or []:
        out += ["--index", str(idx)]
    return [*out, "--backend", args.backend]


def bench_cold(args: argparse.Namespace, runs: int) -> list[ColdRow]:
    """Median wall and CPU seconds of ``drqa-ng ask`` as a fresh process, with and without torch imported."""
    argv = ["ask", *_pipeline_argv(args), "-n", "1", COLD_QUESTION]
    rows = []
    for mode, code in (
        ("`drqa-ng ask` fresh process (ONNX path)", _PLAIN),
        ("same, torch + transformers imported first (old path)", _HEAVY_FIRST),
    ):
        walls, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=os.environ
            )
            walls.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if proc.returncode != 0:
                raise RuntimeError(f"{mode} failed: {proc.stderr.strip()[-500:]}")
        rows.append(ColdRow(mode, runs, float(np.median(walls)), float(np.median(cpus))))
    return rows


def cold_markdown(rows: list[ColdRow]) -> str:
    """The cold-start table; ratios compare each row with the old path (last row) of the same run."""
    lines = [
        f'| cold start (`ask "{COLD_QUESTION}"`) | runs | wall s (median) | CPU s (median) | wall ÷ old |',
        "|---|---:|---:|---:|---:|",
    ]
    base = rows[-1]
    for r in rows:
        lines.append(
            f"| {r.mode} | {r.runs} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {r.wall_s / base.wall_s:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, help="question file (SQuAD JSON or JSONL); default: 8 built-in")
    ap.add_argument("--n", type=int, default=32, help="questions for the direct runs (default 32)")
    ap.add_argument("--batch", type=int, default=8, help="batch size of the batched direct run (default 8)")
    ap.add_argument("--clients", default="1,8,64", help="concurrent HTTP clients, comma-separated")
    ap.add_argument("--requests", type=int, default=64, help="HTTP requests per client level (default 64)")
    ap.add_argument("--top-n", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=300.0, help="per-request timeout in seconds")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP runs")
    ap.add_argument("--cold", type=int, default=0, help="fresh-process `drqa-ng ask` runs per cold-start row")
    ap.add_argument("--cold-only", action="store_true", help="only the cold-start rows")
    add_pipeline_options(ap)
    args = ap.parse_args(argv)
    if args.cold:
        print(f"1-min load average before the cold runs: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        print(cold_markdown(bench_cold(args, args.cold)))
        if args.cold_only:
            return 0

    if args.questions:
        questions = [q.question for q in load_questions(args.questions)][: args.n]
    else:
        questions = [DEFAULT_QUESTIONS[i % len(DEFAULT_QUESTIONS)] for i in range(args.n)]
    # --threads (from add_pipeline_options) reaches the reader through the settings; 1 avoids
    # spin-wait on a busy box.
    settings = pipeline_settings(args)
    t = time.perf_counter()
    pipe = QAPipeline.from_settings(settings)
    print(f"loaded pipeline in {time.perf_counter() - t:.1f} s: {settings}", file=sys.stderr)
    pipe.ask(questions[:2])  # warm-up: first call pays lazy initialisation
    rows = [
        bench_direct(pipe, questions, 1, args.top_n),
        bench_direct(pipe, questions, args.batch, args.top_n),
    ]
    if not args.no_http:
        clients = [int(c) for c in args.clients.split(",") if c.strip()]
        rows += bench_http(pipe, questions, clients, args.requests, args.top_n, args.timeout)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
