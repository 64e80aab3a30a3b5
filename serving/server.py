"""Running the app under uvicorn: the listening socket bound before anything is announced, the
replies uvicorn writes itself in the app's ``{"detail", "error"}`` JSON shape, and a bounded drain.

- ``bind(host, port)``: a busy port (or an address this machine does not have) is an ``InputError``
  naming ``--port``/``--host``, raised before ``serve`` prints "serving http://…" and before any
  model loads in a worker; the bound socket is handed to uvicorn, so no other process can take the
  port in between.
- ``JSONErrorsProtocol``: uvicorn answers an unparsable HTTP request (400) itself, in text/plain;
  this h11 protocol writes it as ``ErrorOut`` JSON. (uvicorn's own 500 is only sent for an app that
  fails before starting its reply; the app's error handlers always reply first.)
- ``DRAIN_S``: on SIGTERM uvicorn stops accepting, waits at most this long for requests in
  progress, then cancels them; the routes' own deadlines (and the video route's shutdown hook)
  make sure no worker thread keeps the process alive much longer.
"""

from __future__ import annotations

import errno
import json
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from drqa_ng.errors import InputError

DRAIN_S = 10


def _json_body(detail: str, error: str) -> bytes:
    return json.dumps({"detail": detail, "error": error}).encode("utf-8")


class JSONErrorsProtocol(H11Protocol):
    """uvicorn's h11 protocol with its own 400 reply in the ``{"detail", "error"}`` shape."""

    def send_400_response(self, msg: str) -> None:
        body = _json_body(f"unparsable HTTP request: {msg}", "BadRequest")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; InputError (one line) when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise InputError(f"--host {host!r}: not an address of this machine ({e.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is fine
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise InputError(
                f"--port {port}: address {host}:{port} is already in use; choose another --port"
            ) from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise InputError(f"--port {port}: permission denied (ports below 1024 need privileges)") from None
        raise InputError(f"--host {host!r} --port {port}: cannot listen there ({e.strerror})") from None
    sock.set_inheritable(True)
    return sock


def run(app: Any, sock: socket.socket, *, log_level: str, access_log: bool) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGINT/SIGTERM (drained within ``DRAIN_S``)."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        http=JSONErrorsProtocol,
        timeout_graceful_shutdown=DRAIN_S,
    )
    StoppingServer(config).run(sockets=[sock])


class StoppingServer(uvicorn.Server):
    """``uvicorn.Server`` that, on SIGTERM/SIGINT, first sets the app's ``state.stopping`` event, so
    long work gives up at once instead of holding uvicorn's drain until its timeout."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        stopping = getattr(getattr(self.config.app, "state", None), "stopping", None)
        if stopping is not None:
            stopping.set()
        super().handle_exit(sig, frame)
