"""Loopback throughput of ``drqa-ng serve --replicas N`` for N = 1, 2, ...: one table, ratios vs 1 replica.

For each N a server is started as a subprocess (``drqa-ng serve --replicas N`` plus every option
this script does not know, e.g. ``--index``/``--docs``/``--reader`` or ``--home``), warmed up, then
``--clients`` concurrent loopback clients send ``--requests`` single-question ``POST /v1/ask``
requests (the client of ``bench_ask.py``). Clients and servers share the machine's cores.

    python scripts/bench_replicas.py --index /work/runs/eval/sparse --docs /work/runs/eval/docs.sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask import DEFAULT_QUESTIONS, Row, _clients, _free_port


def start(replicas: int, port: int, serve_args: list[str], timeout: float) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "drqa_ng.cli.main",
        "serve",
        "--port",
        str(port),
        "--replicas",
        str(replicas),
    ]
    proc = subprocess.Popen([*cmd, *serve_args], start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}: {' '.join(cmd + serve_args)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(proc)
    sys.exit(f"server with {replicas} replicas not up after {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # uvicorn's workers are in the server's own session
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", default="1,2", help="replica counts, comma-separated (default 1,2)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--requests", type=int, default=96, help="requests per run (default 96)")
    ap.add_argument("--top-n", type=int, default=5)
    ap.add_argument("--start-timeout", type=float, default=600)
    args, serve_args = ap.parse_known_args()
    questions = list(DEFAULT_QUESTIONS)
    rows: list[tuple[int, Row]] = []
    for n in (int(x) for x in args.replicas.split(",")):
        port = _free_port()
        proc = start(n, port, serve_args, args.start_timeout)
        try:
            url = f"http://127.0.0.1:{port}/v1/ask"
            asyncio.run(
                _clients(url, questions, args.clients, 2 * args.clients * n, args.top_n, 300)
            )  # warm-up
            rows.append(
                (n, asyncio.run(_clients(url, questions, args.clients, args.requests, args.top_n, 300)))
            )
        finally:
            stop(proc)
    base = rows[0][1].qps or 1.0
    print(
        f"\n{args.clients} loopback clients, {args.requests} POST /v1/ask (top_n {args.top_n}), {os.cpu_count()} CPUs\n"
    )
    print("| replicas | questions/s | x 1 replica | p50 ms | p95 ms | errors |")
    print("|---|---|---|---|---|---|")
    for n, r in rows:
        print(f"| {n} | {r.qps:.1f} | {r.qps / base:.2f} | {r.p50_ms:.0f} | {r.p95_ms:.0f} | {r.errors} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
