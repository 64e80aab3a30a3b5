"""Load benchmark of admission by expected wait: many clients on ``POST /v1/ask`` (and optionally
``/v1/search``), and heavy clients on ``POST /v1/video/ask``.

Each cell starts a server in a child process on a free 127.0.0.1 port (loopback only) and runs
``--clients`` asyncio clients (one httpx connection each) for ``--seconds`` (at most 60): every
client sends a request, waits for the reply and sends the next (over a minimal keep-alive HTTP/1.1
client, ``Connection``: httpx would cost the client more CPU than the server); after a 503 it sleeps the reply's
``Retry-After`` (a polite client). Requests still in flight when the time is up are awaited (each
has a client timeout), so a cell ends by itself. Reported per cell: answered (200) count and rate,
admitted p50/p99 latency (over the 200s), shed count (503 at arrival, "server busy") and shed
p50/p99 latency, late (503 after admission: past the request's deadline), other replies.

Comparator: the same load with ``--deadline 0`` (admission by queue length only, ``--max-queue``,
as before issue 22); the table's last column is answered count and admitted p99, each with
admission / without.

Server: by default a synthetic pipeline (no files needed) whose reader costs ``--batch-ms`` per
batch plus ``--question-ms`` per question in a thread, like the ONNX reader; ``--index``/``--docs``
serve the real pipeline via ``drqa-ng serve``, and ``--video-index`` adds the video cell
(``--video-clients`` heavy asks: k 4 x 4 frames a segment, the default frame cap of 16).

    python scripts/bench_load.py --seconds 10                      # synthetic, ~1 minute
    python scripts/bench_load.py --index /tmp/idx --docs /tmp/docs.sqlite --video-index /tmp/vidx
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask import DEFAULT_QUESTIONS  # the same questions in every load benchmark

MAX_SECONDS = 60.0
MAX_CLIENTS = 500
CLIENT_TIMEOUT_S = 120.0
IDLE_RECONNECT_S = 4.0
HEAVY_VIDEO = {"k": 4, "frames_per_segment": 4}  # 16 frames: the largest request the default cap allows
VIDEO_QUESTIONS = ("Who is the sailor?", "What does Sinbad say?", "Where is the island?", "Who fights?")


@dataclass(frozen=True, slots=True)
class Cell:
    route: str
    deadline_s: float
    clients: int
    seconds: float
    ok_ms: tuple[float, ...]
    shed_ms: tuple[float, ...]
    late: int
    other: dict[int, int]

    @property
    def ok(self) -> int:
        return len(self.ok_ms)

    @property
    def shed(self) -> int:
        return len(self.shed_ms)


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the synthetic server (run in the child process) ----------------------------------------------


def serve_synthetic(
    port: int, max_queue: int, deadline_s: float, batch_ms: float, question_ms: float, timeout_s: float
) -> None:
    """Run the real app (``serving.server.run``) with a pipeline whose retriever/store are trivial
    and whose reader sleeps ``batch_ms + question_ms * questions``."""
    from drqa_ng.pipeline import QAResult, SearchHit, lookup_hits
    from drqa_ng.request import Request
    from drqa_ng.types import Answer, Document, Hit, Passage
    from serving.app import create_app
    from serving.server import bind, run
    from serving.settings import ServerSettings

    passage = Passage("d#p0", "d", "Doc", "Paris is the capital of France.", 0, 31, "paragraph")

    class Retriever:
        unit = "paragraph"

        def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
            time.sleep(question_ms / 4000.0 * len(queries))  # a search is a few times cheaper than a read
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

    settings = ServerSettings(max_queue=max_queue, deadline_s=deadline_s, request_timeout_s=timeout_s)
    app = create_app(settings, pipeline=Pipeline())  # type: ignore[arg-type]
    run(app, bind("127.0.0.1", port), log_level="error", access_log=False)


# -- the client side ------------------------------------------------------------------------------


def _start_server(args: argparse.Namespace, port: int, deadline_s: float) -> subprocess.Popen[bytes]:
    common = ["--max-queue", str(args.max_queue), "--request-timeout", str(args.request_timeout)]
    if args.index:
        cmd = [sys.executable, "-m", "drqa_ng.cli.main", "serve", "--port", str(port), "-q"]
        cmd += [*common, "--deadline", str(deadline_s)]
        cmd += [f"--index={p}" for p in args.index] + [f"--docs={args.docs}"]
        if args.video_index:
            cmd += [f"--video-index={args.video_index}", "--video-deadline", str(args.video_deadline)]
        cmd += ["--threads", str(args.threads)] if args.threads else []
    else:
        cmd = [
            sys.executable,
            __file__,
            "--serve-synthetic",
            str(port),
            *common,
            "--deadline",
            str(deadline_s),
        ]
        cmd += ["--batch-ms", str(args.batch_ms), "--question-ms", str(args.question_ms)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen(cmd, env=env)


async def _wait_ready(url: str, proc: subprocess.Popen[bytes], limit_s: float = 600.0) -> None:
    t0 = time.monotonic()
    async with httpx.AsyncClient(trust_env=False) as c:
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


def _body(route: str, n: int) -> dict[str, object]:
    if route == "ask":
        return {"question": DEFAULT_QUESTIONS[n % len(DEFAULT_QUESTIONS)], "top_n": 1}
    if route == "search":
        return {"query": DEFAULT_QUESTIONS[n % len(DEFAULT_QUESTIONS)], "k": 10}
    return {"question": VIDEO_QUESTIONS[n % len(VIDEO_QUESTIONS)], **HEAVY_VIDEO}


class Connection:
    """A minimal HTTP/1.1 keep-alive client on one loopback connection (asyncio streams).

    httpx costs a few ms of CPU a request; 200 such clients in one process on 2 cores measure their
    own scheduling delay more than the server's latency. This sends a POST with a JSON body and
    reads the status, headers and a Content-Length body; anything else closes the connection.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def post(self, path: str, body: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
        if self.writer is not None and time.monotonic() - self.used > IDLE_RECONNECT_S:
            await self.close()  # the server closes idle keep-alive connections (uvicorn: after 5 s)
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        data = json.dumps(body).encode()
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v for k, _, v in (ln.partition(": ") for ln in lines[1:] if ln)}
            reply = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.close()
        self.used = time.monotonic()
        return int(lines[0].split()[1]), headers, reply

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _client(port: int, route: str, i: int, until: float, out: list[tuple[int, float, bool]]) -> None:
    n = i
    path = {"ask": "/v1/ask", "search": "/v1/search", "video": "/v1/video/ask"}[route]
    conn = Connection(port)
    try:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            retry_after, busy = 1.0, False
            try:
                status, headers, reply = await asyncio.wait_for(
                    conn.post(path, _body(route, n)), CLIENT_TIMEOUT_S
                )
                retry_after = float(headers.get("retry-after", "1"))
                busy = status == 503 and json.loads(reply).get("detail", "").startswith("server busy")
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                status = -1
                await conn.close()
            out.append((status, time.perf_counter() - t0, busy))
            n += 1
            if status == 503:
                await asyncio.sleep(min(retry_after, max(0.0, until - time.monotonic())))
    finally:
        await conn.close()


async def _cell(port: int, route: str, deadline_s: float, clients: int, seconds: float) -> Cell:
    """One route under ``clients`` clients for ``seconds``; ``deadline_s`` is the route's, for the table."""
    out: list[tuple[int, float, bool]] = []
    t0 = time.monotonic()
    await asyncio.gather(*(_client(port, route, i, t0 + seconds, out) for i in range(clients)))
    wall = time.monotonic() - t0
    other: dict[int, int] = {}
    for s, _, _ in out:
        if s not in (200, 503):
            other[s] = other.get(s, 0) + 1
    return Cell(
        route,
        deadline_s,
        clients,
        wall,
        tuple(lat * 1000 for s, lat, _ in out if s == 200),
        tuple(lat * 1000 for s, lat, busy in out if busy),
        sum(1 for s, _, busy in out if s == 503 and not busy),
        other,
    )


async def _served(args: argparse.Namespace, deadline_s: float, cells: list[tuple[str, int]]) -> list[Cell]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start_server(args, port, deadline_s)
    try:
        await _wait_ready(url, proc)
        return [
            await _cell(port, route, args.video_deadline if route == "video" else deadline_s, n, args.seconds)
            for route, n in cells
        ]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


def _row(c: Cell, base: Cell | None) -> str:
    ratio = "–"
    if base is not None and base.ok:
        ratio = f"{c.ok / base.ok:.2f} / {pct(c.ok_ms, 99) / pct(base.ok_ms, 99):.2f}"
    other = ", ".join(f"{k}: {v}" for k, v in sorted(c.other.items())) or "0"
    return (
        f"| {c.route} | {c.deadline_s:g} | {c.clients} | {c.seconds:.0f} | {c.ok} | {c.ok / c.seconds:.1f} "
        f"| {pct(c.ok_ms, 50):.0f} | {pct(c.ok_ms, 99):.0f} | {c.shed} | {pct(c.shed_ms, 50):.0f} "
        f"| {pct(c.shed_ms, 99):.0f} | {c.late} | {other} | {ratio} |"
    )


async def run(args: argparse.Namespace) -> None:
    what = "real pipeline" if args.index else "synthetic reader"
    print(f"# bench_load: {what}, {args.seconds:g} s a cell, {os.cpu_count()} CPUs\n")
    print(
        "| route | deadline s | clients | s | answered | answered/s | admitted p50 ms | admitted p99 ms "
        "| shed (503) | shed p50 ms | shed p99 ms | late (503) | other | answered / p99 vs deadline 0 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    qa_cells = [(r, args.clients) for r in args.routes if r != "video"]
    with_admission = await _served(args, args.deadline, qa_cells) if qa_cells else []
    without = await _served(args, 0.0, qa_cells) if qa_cells and args.compare else []
    for i, c in enumerate(with_admission):
        print(_row(c, without[i] if without else None), flush=True)
    for c in without:
        print(_row(c, None), flush=True)
    if "video" in args.routes:
        if not args.video_index:
            print("\n(video cell skipped: give --video-index with --index/--docs)")
            return
        (c,) = await _served(args, args.deadline, [("video", args.video_clients)])
        print(_row(c, None), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--seconds", type=float, default=60.0, help=f"time per cell (default and max {MAX_SECONDS:g})"
    )
    p.add_argument("--clients", type=int, default=200, help="clients of the ask/search cells (default 200)")
    p.add_argument("--video-clients", type=int, default=30, help="heavy video clients (default 30)")
    p.add_argument(
        "--routes",
        nargs="+",
        choices=("ask", "search", "video"),
        default=["ask", "video"],
        help="cells to run",
    )
    p.add_argument("--deadline", type=float, default=2.0, help="serve --deadline (default 2)")
    p.add_argument("--video-deadline", type=float, default=30.0, help="serve --video-deadline (default 30)")
    p.add_argument("--no-compare", dest="compare", action="store_false", help="skip the --deadline 0 runs")
    p.add_argument("--max-queue", type=int, default=64, help="serve --max-queue (default 64)")
    p.add_argument("--request-timeout", type=float, default=30.0, help="serve --request-timeout (default 30)")
    p.add_argument("--batch-ms", type=float, default=40.0, help="synthetic reader: ms per batch (default 40)")
    p.add_argument(
        "--question-ms", type=float, default=20.0, help="synthetic reader: ms per question (default 20)"
    )
    p.add_argument("--index", type=Path, action="append", help="serve the real pipeline over this index")
    p.add_argument("--docs", type=Path, help="doc store of --index")
    p.add_argument("--video-index", type=Path, help="video index for the video cell (real pipeline only)")
    p.add_argument(
        "--threads", type=int, default=0, help="serve --threads for the reader (default: runtime's)"
    )
    p.add_argument("--serve-synthetic", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_synthetic:
        serve_synthetic(
            args.serve_synthetic,
            args.max_queue,
            args.deadline,
            args.batch_ms,
            args.question_ms,
            args.request_timeout,
        )
        return
    if not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"need 0 < --seconds <= {MAX_SECONDS:g}")
    if not (0 < args.clients <= MAX_CLIENTS and 0 < args.video_clients <= MAX_CLIENTS):
        raise SystemExit(f"need 0 < clients <= {MAX_CLIENTS}")
    if bool(args.index) != bool(args.docs):
        raise SystemExit("give --index and --docs together")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
