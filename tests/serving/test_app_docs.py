"""``/docs`` and ``/redoc`` load Swagger UI / ReDoc from packaged files: no CDN, so they work offline."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline


def test_docs_pages_reference_only_local_assets_that_are_served() -> None:
    with TestClient(create_app(ServerSettings(), pipeline=fake_pipeline())) as client:
        for page in ("/docs", "/redoc"):
            r = client.get(page)
            assert r.status_code == 200
            refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
            assert refs and all(ref.startswith("/") for ref in refs), refs  # nothing from another host
            for ref in refs:
                got = client.get(ref)
                assert got.status_code == 200 and len(got.content) > 1000, ref
        assert "swagger-ui-bundle.js" in client.get("/docs").text
        assert client.get("/openapi.json").json()["paths"]["/v1/ask"]


def test_docs_pages_forbid_other_hosts() -> None:
    """The ReDoc bundle renders a logo from cdn.redoc.ly; the pages' policy keeps the browser from
    fetching it (or anything else off this server)."""
    from pathlib import Path

    import fastapi_offline

    bundle = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
    assert "https://cdn.redoc.ly/" in bundle.read_text(encoding="utf-8")  # what the policy is for
    with TestClient(create_app(ServerSettings(), pipeline=fake_pipeline())) as client:
        for page in ("/docs", "/redoc"):
            policy = client.get(page).headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
            assert directives["default-src"] == "'self'" and directives["img-src"] == "'self' data:"
            assert "http" not in policy and "*" not in policy
        assert "content-security-policy" not in client.get("/healthz").headers
