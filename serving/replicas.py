"""``drqa-ng serve --replicas N``: N uvicorn worker processes, each with its own app and pipeline.

Why uvicorn workers rather than Ray Serve: on one machine the indexes are mmap'd, so N worker
processes share one copy of them through the page cache and each replica only adds its reader
and Python heap; the kernel balances connections over the workers' shared listening socket with
no proxy hop. Ray Serve would add an HTTP proxy actor, a scheduler and object-store copies for
the same result on one box; across machines, run one ``serve --replicas`` per machine behind a
load balancer (each machine mmaps its own copy, or its shards: see ``drqa-ng shard-index``).

uvicorn starts workers by importing an app factory by name in fresh processes, so the settings
travel as JSON in one environment variable set by the parent (``run_replicas``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from drqa_ng.errors import InputError
from drqa_ng.pipeline import PipelineSettings
from serving.settings import ServerSettings

SETTINGS_ENV = "DRQA_NG_SERVE_SETTINGS"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def settings_to_json(settings: ServerSettings) -> str:
    """JSON of ``settings`` (paths as strings, tuples as lists)."""
    data = {
        f.name: _plain(getattr(settings, f.name))
        for f in dataclasses.fields(settings)
        if f.name != "pipeline"
    }
    p = settings.pipeline
    data["pipeline"] = (
        None if p is None else {f.name: _plain(getattr(p, f.name)) for f in dataclasses.fields(p)}
    )
    return json.dumps(data)


def settings_from_json(text: str) -> ServerSettings:
    """Inverse of ``settings_to_json``."""
    data = json.loads(text)
    p = data.pop("pipeline")
    pipeline = None
    if p is not None:
        p["indexes"] = tuple(Path(x) for x in p["indexes"])
        p["docs"] = Path(p["docs"])
        p["reader"] = Path(p["reader"]) if p.get("reader") else None
        p["home"] = Path(p["home"]) if p.get("home") else None
        p["vocabulary"] = Path(p["vocabulary"]) if p.get("vocabulary") else None
        p["articles"] = Path(p["articles"]) if p.get("articles") else None
        p["extra"] = tuple(tuple(kv) for kv in p.get("extra", ()))
        pipeline = PipelineSettings(**p)
    data["routers"] = tuple(data.get("routers", ()))
    data["extra"] = tuple(tuple(kv) for kv in data.get("extra", ()))
    return ServerSettings(pipeline=pipeline, **data)


def app_from_env() -> FastAPI:
    """uvicorn factory for the worker processes: the app for the settings in ``$DRQA_NG_SERVE_SETTINGS``."""
    from serving.app import create_app

    text = os.environ.get(SETTINGS_ENV)
    if not text:
        raise InputError(f"{SETTINGS_ENV} is not set (start replicas with `drqa-ng serve --replicas N`)")
    return create_app(settings_from_json(text))


def run_replicas(settings: ServerSettings, host: str, port: int, replicas: int, log_level: str) -> None:
    """Serve with ``replicas`` uvicorn worker processes (blocks until stopped)."""
    import uvicorn

    from serving.server import DRAIN_S, JSONErrorsProtocol

    if replicas < 1:
        raise InputError(f"--replicas must be >= 1, got {replicas}")
    env = dict(os.environ)
    os.environ[SETTINGS_ENV] = settings_to_json(settings)  # read by the spawned workers only
    try:
        uvicorn.run(
            "serving.replicas:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=replicas,
            log_level=log_level,
            http=JSONErrorsProtocol,
            timeout_graceful_shutdown=DRAIN_S,
        )
    finally:
        os.environ.clear()
        os.environ.update(env)
