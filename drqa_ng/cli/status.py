"""`drqa-ng status`: what a data home retrieves with, and how its background dense build is doing."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    m = int(seconds // 60)
    return f"{m // 60} h {m % 60} min" if m >= 60 else f"{m} min" if m else f"{int(seconds)} s"


def status_dict(home: Path) -> dict[str, Any]:
    """The home's retrieval (from config.json) and background build (progress file + process check)."""
    from drqa_ng.config import read_home_config
    from indexing.background import is_running, pid_alive, process_memory_mb, read_progress

    cfg = read_home_config(home)
    prog = read_progress(home)
    out: dict[str, Any] = {
        "home": str(home),
        "indexes": [p.name for p in cfg.indexes],
        "fusion": cfg.fusion if len(cfg.indexes) > 1 else None,
        "fusion_weight": cfg.fusion_weight_or_default
        if cfg.fusion == "interp" and len(cfg.indexes) > 1
        else None,
        "dense_build": None,
    }
    if prog is not None:
        alive = is_running(home) and pid_alive(prog.pid)
        state = prog.state
        if state in ("running", "finishing") and not alive:
            state = "stopped"  # killed without a chance to say so (kill -9, reboot)
        out["dense_build"] = {
            "state": state,
            "done": prog.done,
            "total": prog.total,
            "percent": round(100.0 * prog.fraction, 1),
            "rate": prog.rate,
            "eta_s": round(prog.eta_s) if prog.eta_s is not None and alive else None,
            "pid": prog.pid,
            "alive": alive,
            "updated_s_ago": round(time.time() - prog.updated, 1),
            "error": prog.error,
            # the live process's memory when it runs, else what it last reported
            "rss_mb": (process_memory_mb(prog.pid) if alive else None) or prog.rss_mb,
            "peak_rss_mb": prog.peak_rss_mb,
        }
    return out


def _status(args: argparse.Namespace) -> int:
    from drqa_ng.config import default_home
    from drqa_ng.errors import InputError
    from indexing.background import start_background_dense, stop_background_dense

    home = (args.home or default_home()).resolve()
    if args.start and args.stop:
        raise InputError("give --start or --stop, not both")
    st = status_dict(home)
    build = st["dense_build"]
    if args.stop:
        print("stopped" if stop_background_dense(home) else "no background build is running")
        return 0
    if args.start:
        if build is not None and build["state"] == "done":
            print("the dense index is already complete")
        elif build is not None and build["alive"]:
            print(f"already running (pid {build['pid']})")
        else:
            print(f"started (pid {start_background_dense(home, args.encoder)})")
        return 0
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    fused = f" ({st['fusion']}" + (f", w={st['fusion_weight']})" if st["fusion_weight"] is not None else ")")
    print(f"home: {st['home']}\nretrieval: {' + '.join(st['indexes'])}{fused if st['fusion'] else ''}")
    if build is None:
        print("dense build: none started")
        return 0
    line = f"dense build: {build['state']}"
    if build["state"] != "done" and build["total"]:
        line += f", {build['done']:,} / {build['total']:,} units ({build['percent']} %)"
        if build["alive"] and build["rate"] > 0:
            line += f", {build['rate']:.0f} units/s, ETA {_duration(build['eta_s'])}"
        elif build["alive"]:
            line += ", measuring the rate"
    line += f"; pid {build['pid']} {'alive' if build['alive'] else 'not running'}"
    if build["rss_mb"] is not None and build["state"] != "done":
        peak = build["peak_rss_mb"]
        line += f", memory {build['rss_mb']:.0f} MB" + (f" (peak {peak:.0f} MB)" if peak else "")
    print(line)
    if build["error"]:
        print(f"  error: {build['error']}")
    if build["state"] in ("stopped", "failed"):
        at = "" if args.home is None else f" --home {home}"
        print(f"  resume (keeps the encoded chunks): drqa-ng status{at} --start")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add status."""
    from drqa_ng.cli.options import add_home_option

    p = sub.add_parser(
        "status",
        help="what the data home retrieves with and how its background dense build is doing",
        description="Show the data home's retrieval (indexes, fusion) and the background MiniLM build started "
        "by quickstart: units done/total, rate, ETA, its memory, and whether its process is alive. --start resumes a "
        "stopped or failed build from its saved chunks; --stop stops a running one.",
    )
    add_home_option(p)
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.add_argument("--start", action="store_true", help="start (resume) the background dense build")
    p.add_argument("--stop", action="store_true", help="stop the running background dense build")
    p.add_argument("--encoder", help="with --start: encoder folder (default: the shipped MiniLM)")
    p.set_defaults(func=_status)
