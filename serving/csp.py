"""A Content-Security-Policy for the API docs pages, so they fetch nothing from another host.

``/docs`` and ``/redoc`` load Swagger UI and ReDoc from packaged files (``fastapi-offline``), but the
ReDoc bundle still renders a Redocly logo from ``cdn.redoc.ly`` in its side menu. The policy lets the
pages load only this server's files (``'self'``; inline scripts for FastAPI's page bootstrap, data
and blob URLs for ReDoc's images and search worker): the browser never makes the outside request,
and ReDoc hides the logo whose load failed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PAGES = ("/docs", "/redoc")
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


class DocsPagesPolicy:
    """ASGI middleware: adds ``DOCS_POLICY`` to the responses of the docs pages (``root_path`` aware)."""

    def __init__(self, app: ASGIApp, pages: tuple[str, ...] = DOCS_PAGES, policy: str = DOCS_POLICY) -> None:
        self.app = app
        self.pages = pages
        self.policy = policy.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.pages:
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    h for h in message.get("headers", []) if h[0].lower() != b"content-security-policy"
                ]
                message = {**message, "headers": [*headers, (b"content-security-policy", self.policy)]}
            await send(message)

        await self.app(scope, receive, with_policy)
