"""`drqa-ng serve`: the HTTP API and web page (FastAPI app from ``serving.app.create_app``) under uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def _serve(args: argparse.Namespace) -> int:
    from drqa_ng.cli.options import pipeline_settings
    from drqa_ng.errors import InputError
    from drqa_ng.pipeline import QAPipeline
    from serving.app import create_app
    from serving.server import bind, run
    from serving.settings import ServerSettings

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise InputError(f"--api-key-env {args.api_key_env}: that environment variable is empty or unset")
    extra = []
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        extra.append((key, value))
    if args.video_index:
        extra.append(("video_index", str(args.video_index)))
    if args.video_media_root:
        extra.append(("video_media_roots", os.pathsep.join(str(p) for p in args.video_media_root)))
    extra.append(("video_deadline_s", str(args.video_deadline)))
    extra.append(("video_max_frames", str(args.video_max_frames)))
    settings = ServerSettings(
        pipeline=pipeline_settings(args),
        api_key=api_key,
        max_questions=args.max_questions,
        max_top_n=args.max_top_n,
        max_k=args.max_k,
        batch_wait_ms=args.batch_wait_ms,
        max_batch=args.max_batch,
        max_body_bytes=args.max_body_bytes,
        max_queue=args.max_queue,
        deadline_s=args.deadline,
        request_timeout_s=args.request_timeout,
        body_timeout_s=args.body_timeout,
        extra=tuple(extra),
    )
    # Load here, not in the app's startup: a missing or corrupt index, doc store or video index is
    # then a one-line error and its exit code instead of uvicorn's traceback of a failed startup.
    pipeline = QAPipeline.from_settings(settings.pipeline)  # type: ignore[arg-type]
    if args.video_index:
        from drqa_ng.video.index import VideoIndex

        VideoIndex.open(args.video_index)
    # Bound before "serving" is printed: a busy port is one line and exit 2, not a lie and a traceback.
    sock = bind(args.host, args.port)
    url = server_url(args.host, sock.getsockname()[1])  # the port the system chose for --port 0
    # uvicorn's info level is the operator's view: "Application startup complete." (the ready line),
    # "Uvicorn running on <url>", then one access-log line per request.
    log_level = "warning" if args.quiet else "info"
    if args.replicas != 1:
        from serving.replicas import run_replicas

        del pipeline  # checked above; each replica process loads its own
        sock.close()  # the replicas bind their own shared socket; the check above stands
        print(f"drqa-ng serve: serving {url} (API docs {url}docs)", file=sys.stderr)
        run_replicas(settings, args.host, args.port, args.replicas, log_level)
        return 0
    print(f"drqa-ng serve: serving {url} (API docs {url}docs)", file=sys.stderr)
    with sock:
        run(create_app(settings, pipeline=pipeline), sock, log_level=log_level, access_log=not args.quiet)
    return 0


def server_url(host: str, port: int) -> str:
    """The URL to open for a bind address (a wildcard address is reached on localhost)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve``."""
    from drqa_ng.cli.options import add_pipeline_options

    p = sub.add_parser(
        "serve",
        help="run the HTTP API (/v1/ask, /v1/search, /v1/docs) and web page",
        description="Serve question answering over HTTP with uvicorn. Models load once at startup; "
        "concurrent /v1/ask requests are micro-batched into the reader. OpenAPI docs at /docs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key-env", metavar="VAR", help="require X-API-Key equal to this environment variable"
    )
    p.add_argument("--max-questions", type=int, default=32, help="questions per request (default 32)")
    p.add_argument("--max-top-n", type=int, default=20, help="answers per question (default 20)")
    p.add_argument("--max-k", type=int, default=100, help="hits per /v1/search query (default 100)")
    p.add_argument(
        "--batch-wait-ms", type=float, default=5.0, help="micro-batch gathering window (default 5)"
    )
    p.add_argument("--max-batch", type=int, default=32, help="questions per reader batch (default 32)")
    p.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="uvicorn worker processes sharing the mmap'd indexes, each with its own reader (default 1)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=1 << 20,
        help="larger request bodies get 413 (default 1 MiB; 0 = off)",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=64,
        help="ask (and search) requests waiting at once; more get 503 + Retry-After (default 64; 0 = unbounded)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=2.0,
        help="ask/search requests expected to finish later than this many seconds (work ahead / measured "
        "rate) get 503 + Retry-After at once (default 2; 0 = admit by --max-queue only)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds before an admitted request still unanswered gets 503 (default 30)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=10.0,
        help="seconds to receive a request body before 408 (default 10; 0 = none)",
    )
    p.add_argument("--video-index", type=Path, help="also serve POST /v1/video/ask over this video index")
    p.add_argument(
        "--video-media-root",
        type=Path,
        action="append",
        metavar="DIR",
        help="folder whose videos /v1/video/media may serve (repeatable; the index folder always is)",
    )
    p.add_argument(
        "--video-deadline",
        type=float,
        default=30.0,
        help="/v1/video/ask: refused (503) when expected to finish later, abandoned (503) at it (default 30 s)",
    )
    p.add_argument(
        "--video-max-frames",
        type=int,
        default=16,
        help="/v1/video/ask: cap on questions x k x frames_per_segment per request (default 16)",
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="extra setting for optional routers")
    add_pipeline_options(p)
    p.set_defaults(func=_serve)
