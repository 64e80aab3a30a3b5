"""Local vs ``--engine ray`` index builds: wall time and peak RSS of every process, one table.

Runs ``drqa-ng build-sparse`` (or ``build-dense``) once per engine as a subprocess and samples the
resident memory of its whole process tree (the driver, Ray's raylet/GCS and its task workers, or
the local build's worker processes) every ``--interval`` seconds with psutil, so the figures are
per process rather than the sum. Prints a Markdown table with ratios against the local build and
checks that both engines wrote the same arrays (sparse) or ids (dense).

    python scripts/bench_engines.py DOCS.sqlite OUT_DIR --kind sparse --workers 2 --ray-cpus 2
    python scripts/bench_engines.py DOCS.sqlite OUT_DIR --kind dense --limit-docs ... (see --help)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    driver_rss: int
    max_other_rss: int
    max_other_name: str
    processes: int


def _tree(p: psutil.Process) -> list[psutil.Process]:
    try:
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def measure(label: str, cmd: list[str], interval: float) -> Run:
    """Run ``cmd``; sample RSS per pid of its process tree until it exits."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    root = psutil.Process(proc.pid)
    peak: dict[int, tuple[int, str]] = {}
    while proc.poll() is None:
        for p in _tree(root):
            try:
                rss, name = p.memory_info().rss, " ".join(p.cmdline()[:3])[-60:]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if rss > peak.get(p.pid, (0, ""))[0]:
                peak[p.pid] = (rss, name)
        time.sleep(interval)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{label}: {' '.join(cmd)} failed with exit code {proc.returncode}")
    driver = peak.pop(proc.pid, (0, ""))[0]
    other = max(peak.values(), default=(0, "-"))
    return Run(label, seconds, driver, other[0], other[1], len(peak) + 1)


def same_arrays(a: Path, b: Path) -> bool:
    names = sorted(f.name for f in a.glob("*.npy"))
    if names != sorted(f.name for f in b.glob("*.npy")):
        return False
    return all(np.array_equal(np.load(a / n, mmap_mode="r"), np.load(b / n, mmap_mode="r")) for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("docs", type=Path)
    ap.add_argument("out", type=Path, help="scratch folder for the indexes")
    ap.add_argument("--kind", choices=("sparse", "dense"), default="sparse")
    ap.add_argument(
        "--workers", type=int, default=2, help="local build: --workers (sparse) / --threads (dense)"
    )
    ap.add_argument("--ray-cpus", type=int, default=2)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--extra", default="", help="extra options for both builds, e.g. '--max-length 128'")
    args = ap.parse_args()
    exe = [sys.executable, "-m", "drqa_ng.cli.main"]
    verb = f"build-{args.kind}"
    extra = args.extra.split()
    par = ["--workers", str(args.workers)] if args.kind == "sparse" else ["--threads", str(args.workers)]
    runs = []
    local, ray_out = args.out / f"{args.kind}-local", args.out / f"{args.kind}-ray"
    cmd = [*exe, verb, str(args.docs), str(local), *par, *extra]
    runs.append(measure(f"local ({par[0]} {args.workers})", cmd, args.interval))
    cmd = [
        *exe,
        verb,
        str(args.docs),
        str(ray_out),
        "--engine",
        "ray",
        "--ray-cpus",
        str(args.ray_cpus),
        *extra,
    ]
    runs.append(measure(f"ray (local cluster, {args.ray_cpus} CPUs)", cmd, args.interval))
    if args.kind == "sparse":
        same = same_arrays(local, ray_out)
    else:
        same = np.array_equal(np.load(local / "ids.bytes.npy"), np.load(ray_out / "ids.bytes.npy"))
    base = runs[0].seconds
    print(f"\n{verb} of {args.docs}; identical output: {same}\n")
    print("| engine | wall s | x local | driver peak RSS MiB | largest other process MiB | processes |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r.label} | {r.seconds:.0f} | {base / r.seconds:.2f} | {r.driver_rss / 2**20:.0f} | "
            f"{r.max_other_rss / 2**20:.0f} ({r.max_other_name}) | {r.processes} |"
        )


if __name__ == "__main__":
    main()
