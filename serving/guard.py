"""``RequestGuard``: the checks that must run before FastAPI reads or parses a request body.

FastAPI parses the JSON body before any dependency runs, so a size limit or an API-key check done as
a dependency comes too late: a 200 MB body would already be in memory (and echoed in a 422). This
plain ASGI middleware, outermost in the app, answers

- 413 when ``Content-Length`` is over ``max_body_bytes``, before anything is read or checked;
- 401 for a ``/v1`` request without the right ``X-API-Key`` (when a key is set), before the body is read;
- 413 when a body without ``Content-Length`` (chunked) grows past the limit while it is read. Such a
  body is buffered here (at most ``max_body_bytes``) and replayed to the app.

Starlette has no body-size limit of its own and uvicorn only limits header sizes, hence this module.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

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
        self, app: ASGIApp, *, max_body_bytes: int, api_key: str | None, protected_prefix: str = "/v1"
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_key = api_key
        self.protected_prefix = protected_prefix

    def _too_large(self) -> str:
        return f"request body is larger than the limit of {self.max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
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
        if (
            self.api_key is not None
            and protected
            and not key_matches(headers.get(API_KEY_HEADER), self.api_key)
        ):
            await send_error(send, 401, "Unauthorized", "missing or wrong X-API-Key header")
            return
        if length is not None or self.max_body_bytes <= 0:
            # A declared length within the limit: servers (h11, httptools) never deliver more than declared.
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await send_error(send, 413, "PayloadTooLarge", self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
