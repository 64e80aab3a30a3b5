"""``RequestGuard``: the checks that must run before FastAPI reads or parses a request body.

FastAPI parses the JSON body before any dependency runs, so a size limit or an API-key check done as
a dependency comes too late: a 200 MB body would already be in memory (and echoed in a 422). This
plain ASGI middleware, outermost in the app, answers

- 413 when ``Content-Length`` is over ``max_body_bytes``, before anything is read or checked;
- 401 for a ``/v1`` request without the right ``X-API-Key`` (when a key is set), before the body is
  read; also for a request with more than one ``X-API-Key`` header (servers and frameworks disagree
  on which one counts: first or last);
- 413 when a body without ``Content-Length`` (chunked) grows past the limit while it is read;
- 408 when the body has not fully arrived ``body_timeout_s`` after the request began (a slow-loris
  client that promises 100 bytes and sends 2 no longer holds a connection and a task for minutes).

Every body is read here (at most ``max_body_bytes``), then replayed to the app. Before that,
``shed(path)`` may refuse the request with 503 + Retry-After (``OverloadedError``): when even the
smallest request to that route would be refused by its admission gate, it is refused here without
routing, parsing or validation, so refusing costs the event loop as little as possible.

Starlette has no body-size limit or body timeout of its own and uvicorn only limits header sizes,
hence this module.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from drqa_ng.errors import OverloadedError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_KEY_HEADER = b"x-api-key"


def key_matches(sent: str | bytes | None, expected: str) -> bool:
    """Constant-time comparison of the sent key with the expected one."""
    if sent is None:
        return False
    raw = sent if isinstance(sent, bytes) else sent.encode("utf-8", "surrogateescape")
    return secrets.compare_digest(raw, expected.encode("utf-8"))


async def send_error(
    send: Send, status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> None:
    """Send an ``ErrorOut`` JSON body (``{"detail", "error"}``) and close the response."""
    body = json.dumps({"detail": detail, "error": error}).encode("utf-8")
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class RequestGuard:
    """ASGI middleware: body-size limit and API key, both before the body is parsed (see module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        api_key: str | None,
        protected_prefix: str = "/v1",
        body_timeout_s: float = 0.0,
        shed: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_key = api_key
        self.protected_prefix = protected_prefix
        self.body_timeout_s = body_timeout_s
        self.shed = shed

    def _too_large(self) -> str:
        return f"request body is larger than the limit of {self.max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = list(scope.get("headers") or [])
        headers = dict(raw_headers)
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await send_error(send, 400, "BadRequest", "Content-Length is not a number")
                return
            if self.max_body_bytes > 0 and declared > self.max_body_bytes:
                await send_error(send, 413, "PayloadTooLarge", self._too_large())
                return
        path: str = scope.get("path", "")
        protected = path == self.protected_prefix or path.startswith(self.protected_prefix + "/")
        if self.api_key is not None and protected:
            sent = [v for k, v in raw_headers if k.lower() == API_KEY_HEADER]
            if len(sent) > 1:
                await send_error(send, 401, "Unauthorized", "send exactly one X-API-Key header")
                return
            if not key_matches(sent[0] if sent else None, self.api_key):
                await send_error(send, 401, "Unauthorized", "missing or wrong X-API-Key header")
                return
        body = await self._read_body(receive, send)
        if body is None:
            return
        if self.shed is not None and scope.get("method") == "POST":
            try:
                self.shed(path)
            except OverloadedError as e:
                await send_error(send, 503, "OverloadedError", str(e), {"retry-after": str(e.retry_after)})
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once an error reply is sent (too large, too slow) or the client left.

        Servers (h11, httptools) never deliver more than a declared Content-Length, so only a chunked
        body can grow past the limit here.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s if self.body_timeout_s > 0 else None
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                if deadline is None:
                    message = await receive()
                else:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                await send_error(
                    send,
                    408,
                    "RequestTimeout",
                    f"request body not received within {self.body_timeout_s:g} s",
                    {"connection": "close"},
                )
                return None
            if message["type"] != "http.request":  # client went away
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if self.max_body_bytes > 0 and size > self.max_body_bytes:
                await send_error(send, 413, "PayloadTooLarge", self._too_large())
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
