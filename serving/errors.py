"""Every error the app answers, in one place and one shape: ``ErrorOut`` (``{"detail", "error"}``).

- ``DrqaError`` -> its ``http_status`` (``OverloadedError`` adds ``Retry-After``);
- request validation -> 422 naming the field and the rule, never echoing the input (FastAPI's own
  handler echoes it, which fails with a 500 for NaN/Infinity and lone surrogates and sends a 200 MB
  body back when one is posted);
- Starlette's HTTP errors (404 route, 405, 400 unparsable body) -> the same shape;
- anything else -> 500 "internal error", logged with its traceback on the server only.

Every message is cut to ``MAX_DETAIL_CHARS`` and made UTF-8-safe before it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from drqa_ng.errors import DrqaError, OverloadedError
from serving.schemas import ErrorOut

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 300
MAX_LOC_PART_CHARS = 40
MAX_ERRORS_LISTED = 3

# The error responses every /v1 route may give, declared in OpenAPI with the one error schema.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Unparsable request"},
    413: {"model": ErrorOut, "description": "Request body over the size limit"},
    422: {"model": ErrorOut, "description": "Invalid request (field and rule named in detail)"},
    503: {"model": ErrorOut, "description": "Busy or past the request deadline; retry after Retry-After s"},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong X-API-Key"},
}


def safe_text(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` cut to ``limit`` characters (with "…"), lone surrogates written as ``\\udXXX`` escapes."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _is_union_tag(part: object) -> bool:
    """pydantic's name of a union member in ``loc`` (``constrained-str``, ``list[str]``), not a field."""
    return isinstance(part, str) and any(c in part for c in "-[")


def validation_detail(errors: Sequence[Any]) -> str:
    """One line naming each failing field and its rule, e.g. ``top_n: Input should be a finite number``.

    Built from pydantic's ``loc``, ``msg`` and, for bad JSON, the parser's position; the ``input``
    (the client's data) is never used. For an optional field the "should be None" branch is left out.
    """
    errors = [e for e in errors if e.get("type") != "none_required"] or list(errors)
    parts = []
    for err in errors[:MAX_ERRORS_LISTED]:
        loc = list(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            reason = str(err.get("ctx", {}).get("error", "invalid JSON"))
            parts.append(f"body: invalid JSON at char {loc[-1] if loc else '?'} ({reason})")
            continue
        user_key = err.get("type") == "extra_forbidden"  # its last part is the client's key, keep it
        kept = [
            p
            for i, p in enumerate(loc)
            if p != "body" and not (_is_union_tag(p) and not (user_key and i == len(loc) - 1))
        ]
        where = ".".join(str(p)[:MAX_LOC_PART_CHARS] for p in kept) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    if len(errors) > MAX_ERRORS_LISTED:
        parts.append(f"(+{len(errors) - MAX_ERRORS_LISTED} more)")
    return "; ".join(parts) or "invalid request"


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content=ErrorOut(detail=safe_text(detail), error=error).model_dump(),
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""

    @app.exception_handler(DrqaError)
    async def _drqa_error(request: Request, exc: DrqaError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, OverloadedError) else None
        return error_response(exc.http_status, type(exc).__name__, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "ValidationError", validation_detail(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed"}
        return error_response(
            exc.status_code, name.get(exc.status_code, "HTTPError"), str(exc.detail), dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "InternalError", "internal error (see the server log)")
