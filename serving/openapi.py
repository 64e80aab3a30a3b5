"""The OpenAPI document states this server's own limits, not only the hard caps of the schemas.

The request models cap sizes at ``HARD_MAX_*``; each server may lower them (``ServerSettings``) and
then refuses larger requests with 422. A client (or schemathesis) that trusts the document must not
be refused for a request the document allows, so the numbers are written into it here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def apply_limits(
    doc: dict[str, Any], *, max_questions: int, max_chars: int, max_top_n: int, max_k: int
) -> None:
    """Lower maxItems / maxLength / maximum (``top_n``, ``k``) of the ask and search request schemas in place."""
    schemas = doc.get("components", {}).get("schemas", {})
    for name, single, many, number, top in (
        ("AskRequest", "question", "questions", "top_n", max_top_n),
        ("SearchRequest", "query", "queries", "k", max_k),
    ):
        props = schemas.get(name, {}).get("properties")
        if not props:
            continue
        props[single]["maxLength"] = min(props[single].get("maxLength", max_chars), max_chars)
        props[many]["maxItems"] = min(props[many].get("maxItems", max_questions), max_questions)
        props[many]["items"]["maxLength"] = max_chars
        props[number]["maximum"] = min(props[number].get("maximum", top), top)
    ask = schemas.get("AskRequest", {}).get("properties", {})
    if "k" in ask:
        ask["k"]["maximum"] = min(ask["k"].get("maximum", max_k), max_k)


def install_limited_openapi(app: FastAPI, **limits: int) -> None:
    """Make ``app.openapi()`` return FastAPI's document with ``apply_limits(**limits)`` applied once."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            apply_limits(build(), **limits)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
