"""Load benchmark of ``POST /v1/ask``: throughput, p50/p95/p99 and 503s for 1, 10, 50 and 200 clients,
with the ask queue bounded (``--max-queue``) and unbounded (0), server RSS before and after.

The server runs in a child process on a free 127.0.0.1 port (loopback only); the clients are
asyncio tasks with one httpx connection each. Each cell runs ``--seconds`` (at most 60): every client
sends one question, waits for the reply, and sends the next; a 503 makes it sleep ``Retry-After``
(as a polite client does). Requests still in flight when the time is up are awaited (each has a
timeout), so a cell ends by itself. Latency percentiles are over the answered (200) requests.

Pipeline: by default a synthetic one (no files needed) whose reader costs ``--batch-ms`` per batch
plus ``--question-ms`` per question, in a thread, like the ONNX reader (which releases the GIL);
``--index``/``--docs`` (or ``--home``) serve the real pipeline instead, via ``drqa-ng serve``.

    python scripts/bench_load.py                       # synthetic, ~2 minutes
    python scripts/bench_load.py --index /work/runs/eval/sparse --docs /work/runs/eval/docs.sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask import DEFAULT_QUESTIONS  # the same questions in every load benchmark

CLIENTS = (1, 10, 50, 200)
MAX_SECONDS = 60.0
MAX_CLIENTS = 500


@dataclass(frozen=True, slots=True)
class Cell:
    max_queue: int
    clients: int
    seconds: float
    ok: int
    busy: int
    other: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the synthetic server (run in the child process) ----------------------------------------------


def serve_synthetic(port: int, max_queue: int, batch_ms: float, question_ms: float, timeout_s: float) -> None:
    """Run the real app with a pipeline whose retriever/store are trivial and whose reader sleeps."""
    import uvicorn

    from drqa_ng.pipeline import QAResult, SearchHit, lookup_hits
    from drqa_ng.request import Request
    from drqa_ng.types import Answer, Document, Hit, Passage
    from serving.app import create_app
    from serving.settings import ServerSettings

    passage = Passage("d#p0", "d", "Doc", "Paris is the capital of France.", 0, 31, "paragraph")

    class Retriever:
        unit = "paragraph"

        def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
            return [[Hit("d#p0", "d", 1.0)] for _ in queries]

    class Store:
        def get_passages(self, ids: Sequence[str]) -> list[Passage | None]:
            return [passage for _ in ids]

        def get_documents(self, ids: Sequence[str]) -> list[Document | None]:
            return [Document("d", "Doc", passage.text) for _ in ids]

        def get_units(self, doc_ids: Sequence[str], unit: str) -> list[list[Passage]]:
            return [[passage] for _ in doc_ids]

    class Pipeline:
        retriever = Retriever()
        store = Store()
        min_confidence = 0.0  # the synthetic reader never abstains

        def find(self, request: Request, *, keep_missing: bool = False) -> list[list[SearchHit]]:
            return lookup_hits(
                self.retriever.search(request.questions, request.k or 5), self.store, "paragraph"
            )

        def answer(self, request: Request) -> list[QAResult]:
            qs = request.questions
            time.sleep((batch_ms + question_ms * len(qs)) / 1000.0)
            return [QAResult(q, (Answer("Paris", 1.0, passage, 0, 5, 1.0, 1.0),), (), 0.0) for q in qs]

    settings = ServerSettings(max_queue=max_queue, request_timeout_s=timeout_s)
    app = create_app(settings, pipeline=Pipeline())  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


# -- the client side ------------------------------------------------------------------------------


def _start_server(args: argparse.Namespace, port: int, max_queue: int) -> subprocess.Popen[bytes]:
    timeout = str(args.request_timeout if max_queue else 0)
    if args.index or args.home:
        cmd = [
            sys.executable,
            "-m",
            "drqa_ng.cli.main",
            "serve",
            "--port",
            str(port),
            "--max-queue",
            str(max_queue),
        ]
        cmd += ["--request-timeout", timeout]
        cmd += [f"--index={p}" for p in args.index or []]
        cmd += [f"--docs={args.docs}"] if args.docs else []
        cmd += [f"--home={args.home}"] if args.home else []
    else:
        cmd = [sys.executable, __file__, "--serve-synthetic", str(port), "--max-queue", str(max_queue)]
        cmd += ["--batch-ms", str(args.batch_ms), "--question-ms", str(args.question_ms)]
        cmd += ["--request-timeout", timeout]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen(cmd, env=env)


async def _wait_ready(url: str, proc: subprocess.Popen[bytes], limit_s: float = 600.0) -> None:
    t0 = time.monotonic()
    async with httpx.AsyncClient() as c:
        while time.monotonic() - t0 < limit_s:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with code {proc.returncode} before it was ready")
            try:
                if (await c.get(f"{url}/healthz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"server not ready after {limit_s:.0f} s")


async def _client(c: httpx.AsyncClient, url: str, i: int, until: float, out: list[tuple[int, float]]) -> None:
    n = i
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            r = await c.post(
                f"{url}/v1/ask", json={"question": DEFAULT_QUESTIONS[n % len(DEFAULT_QUESTIONS)], "top_n": 1}
            )
            status = r.status_code
        except httpx.HTTPError:
            status = -1
        out.append((status, time.perf_counter() - t0))
        n += 1
        if status == 503:
            await asyncio.sleep(float(r.headers.get("retry-after", "1")))


async def _cell(url: str, max_queue: int, clients: int, seconds: float) -> Cell:
    out: list[tuple[int, float]] = []
    # One client object (one TLS context, built once) with a connection per simulated client.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120.0, limits=limits, trust_env=False) as c:
        t0 = time.monotonic()
        await asyncio.gather(*(_client(c, url, i, t0 + seconds, out) for i in range(clients)))
    wall = time.monotonic() - t0
    ok = np.asarray([lat for s, lat in out if s == 200]) * 1000.0

    def pct(q: float) -> float:
        return float(np.percentile(ok, q)) if len(ok) else float("nan")

    busy = sum(1 for s, _ in out if s == 503)
    return Cell(max_queue, clients, wall, len(ok), busy, len(out) - len(ok) - busy, pct(50), pct(95), pct(99))


def _rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


async def run(args: argparse.Namespace) -> None:
    print(
        f"# bench_load: {'real pipeline' if (args.index or args.home) else 'synthetic reader'}, "
        f"{args.seconds:g} s a cell, clients {', '.join(map(str, args.clients))}\n"
    )
    print("| max_queue | clients | answered/s | answered | 503 | other | p50 ms | p95 ms | p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rss: list[str] = []
    for max_queue in (args.max_queue, 0):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _start_server(args, port, max_queue)
        try:
            await _wait_ready(url, proc)
            before = _rss_mib(proc.pid)
            for clients in args.clients:
                c = await _cell(url, max_queue, clients, args.seconds)
                print(
                    f"| {max_queue or 'off'} | {clients} | {c.ok_per_s:.1f} | {c.ok} | {c.busy} | {c.other} "
                    f"| {c.p50_ms:.0f} | {c.p95_ms:.0f} | {c.p99_ms:.0f} |",
                    flush=True,
                )
            rss.append(
                f"max_queue={max_queue or 'off'}: server RSS {before:.0f} MiB before, {_rss_mib(proc.pid):.0f} MiB after"
            )
        finally:
            proc.terminate()  # uvicorn waits for requests in flight; a busy reader may not finish
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)
    print()
    for line in rss:
        print(line)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--seconds", type=float, default=6.0, help=f"time per cell (default 6, at most {MAX_SECONDS:g})"
    )
    p.add_argument(
        "--clients", type=int, nargs="+", default=list(CLIENTS), help="client counts (default 1 10 50 200)"
    )
    p.add_argument("--max-queue", type=int, default=64, help="queue bound of the bounded runs (default 64)")
    p.add_argument(
        "--request-timeout", type=float, default=30.0, help="deadline of the bounded runs (default 30)"
    )
    p.add_argument("--batch-ms", type=float, default=40.0, help="synthetic reader: ms per batch (default 40)")
    p.add_argument(
        "--question-ms", type=float, default=20.0, help="synthetic reader: ms per question (default 20)"
    )
    p.add_argument("--index", type=Path, action="append", help="serve the real pipeline over this index")
    p.add_argument("--docs", type=Path, help="doc store of --index")
    p.add_argument("--home", type=Path, help="data home of the real pipeline")
    p.add_argument("--serve-synthetic", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_synthetic:
        serve_synthetic(
            args.serve_synthetic, args.max_queue, args.batch_ms, args.question_ms, args.request_timeout
        )
        return
    if not 0 < args.seconds <= MAX_SECONDS or not all(0 < c <= MAX_CLIENTS for c in args.clients):
        raise SystemExit(f"need 0 < --seconds <= {MAX_SECONDS:g} and 0 < clients <= {MAX_CLIENTS}")
    if args.max_queue < 1:
        raise SystemExit("--max-queue must be >= 1 (the unbounded runs are made anyway)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
