"""The app under uvicorn as ``drqa-ng serve`` runs it (``serving.server``), on a loopback port:
slow bodies, unparsable requests, busy ports."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from drqa_ng.errors import InputError
from serving.app import create_app
from serving.server import DRAIN_S, JSONErrorsProtocol, StoppingServer, bind
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline


@pytest.fixture
def server_port() -> Iterator[int]:
    app = create_app(ServerSettings(body_timeout_s=0.5), pipeline=fake_pipeline())
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(
        app, log_level="warning", http=JSONErrorsProtocol, timeout_graceful_shutdown=DRAIN_S
    )
    server = StoppingServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):  # at most ~10 s
        if server.started:
            break
        time.sleep(0.05)
    else:
        pytest.fail("uvicorn did not start")
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _exchange(port: int, raw: bytes, wait_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` and read the reply until the server closes (or ``wait_s`` passes: status 0)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as c:
        c.sendall(raw)
        data = b""
        try:
            while chunk := c.recv(65536):
                data += chunk
        except TimeoutError:
            return 0, {}, data
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def test_a_body_that_never_fully_arrives_gets_408_and_the_connection_is_closed(server_port: int) -> None:
    """Before: a client promising 100 bytes and sending 2 held its connection (300 of them: 60 s)."""
    raw = (
        b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}"
    )
    status, headers, body = _exchange(server_port, raw)
    assert status == 408 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == "RequestTimeout"


def test_an_unparsable_request_is_400_in_the_error_shape(server_port: int) -> None:
    """Before: uvicorn's own text/plain "Invalid HTTP request received."."""
    status, headers, body = _exchange(server_port, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    out = json.loads(body)
    assert set(out) == {"detail", "error"} and out["error"] == "BadRequest"


def test_a_normal_request_still_works(server_port: int) -> None:
    body = json.dumps({"question": "What is the capital of Italy?"}).encode()
    raw = (
        b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    status, _, reply = _exchange(server_port, raw)
    assert status == 200 and json.loads(reply)["results"][0]["answers"][0]["text"] == "Rome"


def test_bind_a_busy_port_is_one_input_error_naming_the_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(InputError, match=f"--port {port}: .*already in use"):
            bind("127.0.0.1", port)


# A server over the video index whose recogniser takes 5 s a frame (checked before every frame),
# run as ``drqa-ng serve`` runs it (serving.server.run); it prints its port once listening.
SLOW_VIDEO_SERVER = """
import sys, time
import drqa_ng.video.recognize as recognize
from tests.fixtures.video import CountingRecognizer

class Slow(CountingRecognizer):
    def recognize(self, frames):
        time.sleep(5.0 * len(frames))
        return super().recognize(frames)

recognize.default_recognizer = Slow
import serving.routers.video
serving.routers.video.RECOGNIZE_CHUNK = 1
from serving.app import create_app
from serving.server import bind, run
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline

extra = (("video_index", sys.argv[1]), ("video_reader", "0"))
app = create_app(ServerSettings(extra=extra), pipeline=fake_pipeline())
sock = bind("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
run(app, sock, log_level="warning", access_log=False)
"""


def test_sigterm_drains_a_server_busy_with_heavy_video_asks(video_index_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: SIGTERM waited for every heavy video ask in progress (36 s each); now the ask in
    progress is abandoned at its next frame chunk and the waiting ones are refused."""
    import os
    import signal
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    import httpx

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_VIDEO_SERVER, str(video_index_dir)],
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        url = f"http://127.0.0.1:{port}/v1/video/ask"
        body = {"question": "keeper", "k": 4, "frames_per_segment": 4}  # 4 frames here: 20 s of work
        with ThreadPoolExecutor(3) as ex, httpx.Client(timeout=60, trust_env=False) as client:
            replies = [ex.submit(client.post, url, json=body) for _ in range(3)]
            time.sleep(1.0)  # the first is recognising its first frame, the others were refused
            os.kill(proc.pid, signal.SIGTERM)
            t0 = time.monotonic()
            rc = proc.wait(DRAIN_S + 5)  # a bound on the wait: before, this took over 30 s
            print(f"\nSIGTERM to exit: {time.monotonic() - t0:.1f} s")
            statuses = sorted(r.result(10).status_code for r in replies)
        # uvicorn re-raises the signal once it has shut down cleanly
        assert rc == -signal.SIGTERM and statuses == [503, 503, 503]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
