"""The MiniLM dense index of a data home, built in a detached low-priority process.

``quickstart`` on a CPU machine answers at once from BM25 (+ the static index) and calls
``start_background_dense(home)``: a detached process (new session, ``nice`` +10, output in
``home/dense-build.log``, idle I/O priority) runs ``python -m indexing.background --home HOME``, which
encodes the home's units with ``indexing.dense.build_dense_from_units`` (checkpointed chunks: a
killed build started again resumes) and writes ``home/dense-build.json`` after every chunk::

    {"state": "running", "pid": 4242, "done": 8192, "total": 378897, "rate": 148.1,
     "eta_s": 2504, "started": ..., "updated": ..., "error": null, "rss_mb": 402.5, "peak_rss_mb": 455.1}

Memory stays bounded on a shared machine: the ONNX encoder runs without its memory arena, in
batches of ``BATCH_SIZE``, and freed memory is handed back to the OS between chunks
(``release_memory``); ``drqa-ng status`` shows the process's memory.

``state`` is ``running``, ``finishing`` (FAISS index being written), ``done``, ``stopped`` (SIGTERM /
Ctrl-C; resumable) or ``failed`` (``error`` says why; also resumable). When the
index is complete the process rewrites ``home/config.json`` (``HomeConfig``) to retrieve with it:
BM25 + MiniLM, interpolated with weight ``DENSE_FUSION_WEIGHT`` (0.7) on MiniLM, the best of an
11-point grid on the tune halves of the four shared question sets (scripts/compare_dense_defaults.py);
``ask`` reads that file on each run and a running ``serve`` notices the change
(``drqa_ng.retrieval.upgrade``). ``drqa-ng status`` shows the progress file and whether its
process is alive; ``drqa-ng status --start`` resumes a stopped build, ``--stop`` stops one.
One build per home at a time: the process holds an exclusive lock on ``home/dense-build.lock``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

from drqa_ng.errors import InputError, NotFoundError
from indexing.quickstart import DENSE_FUSION_WEIGHT, DENSE_NAME, HOME_FACTORY, SPARSE_NAME

log = logging.getLogger(__name__)

PROGRESS_FILE = "dense-build.json"
LOG_FILE = "dense-build.log"
LOCK_FILE = "dense-build.lock"
NICE = 10
CHUNK_SIZE = 4096
BATCH_SIZE = 16
"""Texts per encoder call in the background build: a quarter of the foreground's 64, so the largest
batch's activations (the longest passages of a chunk come last) stay small on a shared machine."""


@dataclass(frozen=True, slots=True)
class BuildProgress:
    """What ``home/dense-build.json`` says about the background dense build."""

    state: str
    pid: int
    done: int
    total: int
    rate: float
    """Units encoded per second in this run (over the last few chunks)."""
    eta_s: float | None
    started: float
    updated: float
    error: str | None = None
    rss_mb: float | None = None
    """The build process's resident memory after its latest chunk (MiB)."""
    peak_rss_mb: float | None = None
    """Its peak resident memory so far (MiB)."""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def read_progress(home: Path) -> BuildProgress | None:
    """The progress file of ``home`` (None when no background build was ever started)."""
    path = Path(home) / PROGRESS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return BuildProgress(**data)
    except (OSError, json.JSONDecodeError, TypeError) as e:
        log.warning("unreadable %s: %s", path, e)
        return None


def write_progress(home: Path, progress: BuildProgress) -> None:
    """Write the progress file through a temp name (readers never see half a file)."""
    path = Path(home) / PROGRESS_FILE
    tmp = path.with_name(f".{PROGRESS_FILE}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(asdict(progress)) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def release_memory() -> None:
    """Hand freed memory back to the OS between chunks: collect garbage, then ask glibc to return
    its free heap pages (``malloc_trim``; a no-op where there is no glibc)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc is None:
        return
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: not glibc
        ctypes.CDLL(libc).malloc_trim(0)


def memory_mb() -> tuple[float, float]:
    """(resident, peak resident) memory of this process in MiB."""
    import resource

    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return round(rss, 1), round(max(peak, rss), 1)


def process_memory_mb(pid: int) -> float | None:
    """The resident memory of process ``pid`` in MiB (None when it is gone or not ours to read)."""
    import psutil

    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is a dense background build (guards against a reused pid)."""
    import psutil

    try:
        cmd = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "indexing.background" in cmd


def is_running(home: Path) -> bool:
    """True while a background build of ``home`` holds its lock."""
    lock = Path(home) / LOCK_FILE
    if not lock.is_file():
        return False
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def start_background_dense(home: Path, encoder: str | None = None) -> int:
    """Start the detached build of ``home``'s MiniLM dense index; returns its pid.

    A build already running for ``home`` is left alone (its pid is returned). The child gets its
    own session (a closed terminal does not stop it), no stdin, and ``home/dense-build.log``.
    """
    home = Path(home).resolve()
    if not (home / "config.json").is_file():
        raise NotFoundError(f"no data home at {home}: run `drqa-ng quickstart` first")
    # The lock is taken here and handed to the child (an inherited descriptor keeps a flock), so
    # two starts in a row never run two builds, even before the first child is up.
    with open(home / LOCK_FILE, "a") as lockf:
        try:
            fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            prog = read_progress(home)
            return prog.pid if prog is not None else 0
        fd = lockf.fileno()
        cmd = [sys.executable, "-m", "indexing.background", "--home", str(home), "--lock-fd", str(fd)]
        if encoder:
            cmd += ["--encoder", encoder]
        with open(home / LOG_FILE, "ab") as logf:
            child = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(fd,),
            )
        now = time.time()
        write_progress(home, BuildProgress("running", child.pid, 0, 0, 0.0, None, now, now))
    log.info("background dense build of %s started (pid %d)", home, child.pid)
    return child.pid


def stop_background_dense(home: Path, wait_s: float = 60.0) -> bool:
    """Stop ``home``'s running build (SIGTERM, then wait up to ``wait_s`` for it to exit); True when
    there was one. Its saved chunks are kept for a later start."""
    import psutil

    prog = read_progress(home)
    if prog is None or not is_running(home) or not pid_alive(prog.pid):
        return False
    proc = psutil.Process(prog.pid)
    proc.terminate()
    try:
        proc.wait(timeout=wait_s)
    except psutil.TimeoutExpired:
        log.warning("background build pid %d did not stop within %.0f s", prog.pid, wait_s)
    return True


@contextmanager
def _exclusive(home: Path, lock_fd: int | None = None) -> Iterator[None]:
    """Hold ``home``'s build lock (``lock_fd``: an inherited descriptor that already holds it)."""
    with os.fdopen(lock_fd, "a") if lock_fd is not None else open(Path(home) / LOCK_FILE, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise InputError(f"another dense build of {home} is running") from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class _Meter:
    """Progress over a sliding window of chunk completions (resumed chunks pass in a blink and
    leave the window after a few real ones)."""

    def __init__(self, home: Path, total: int, chunk: int, started: float, saved: int = 0) -> None:
        self.home, self.total, self.chunk, self.started = home, total, chunk, started
        self.saved = saved  # chunks already in the work folder: resumed ones restart the rate window
        self.marks: list[tuple[float, int]] = [(time.time(), 0)]

    def __call__(self, i: int) -> None:
        release_memory()  # encode in chunks, release between them: memory stays near one chunk's
        rss, peak = memory_mb()
        done = min((i + 1) * self.chunk, self.total)
        now = time.time()
        self.marks = [(now, done)] if i < self.saved else [*self.marks[-5:], (now, done)]
        (t0, d0), (t1, d1) = self.marks[0], self.marks[-1]
        rate = (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else None
        state = "running" if done < self.total else "finishing"
        write_progress(
            self.home,
            BuildProgress(
                state, os.getpid(), done, self.total, round(rate, 1), eta, self.started, now, None, rss, peak
            ),
        )


def build_home_dense(
    home: Path, encoder: str | None = None, chunk_size: int = CHUNK_SIZE, lock_fd: int | None = None
) -> BuildProgress:
    """Encode ``home``'s units into ``home/dense`` (resuming saved chunks), reporting progress in
    ``home/dense-build.json``, then switch ``config.json`` to BM25 + MiniLM (interp, weight
    ``DENSE_FUSION_WEIGHT`` on MiniLM). Runs in the caller's process; ``start_background_dense``
    runs it detached."""
    from drqa_ng.config import read_home_config
    from drqa_ng.retrieval.encoder import Encoder
    from drqa_ng.store.docstore import DocStore
    from indexing.dense import build_dense_from_units

    home = Path(home).resolve()
    cfg = read_home_config(home)
    started = time.time()
    with _exclusive(home, lock_fd):
        progress = BuildProgress("running", os.getpid(), 0, 0, 0.0, None, started, started)
        write_progress(home, progress)
        try:
            with DocStore.open(cfg.docs) as store:
                unit = cfg.unit
                total = store.count(unit)  # type: ignore[arg-type]
                from indexing.dense import work_dir_for

                saved = len(list(work_dir_for(home / DENSE_NAME).glob("emb-*.npy")))
                meter = _Meter(home, total, chunk_size, started, saved)
                write_progress(home, replace(progress, total=total, updated=time.time()))
                # no torch import just to ask for a GPU the machine cannot have (it costs ~190 MB)
                backend = "auto" if Path("/proc/driver/nvidia/version").exists() else "onnx-int8"
                enc = Encoder.load(encoder, backend=backend, low_memory=True)  # type: ignore[arg-type]
                count = _complete_count(home / DENSE_NAME, store.corpus_hash(), enc.sha256)
                res = (
                    count
                    if count is not None
                    else build_dense_from_units(
                        islice(store.iter_units(unit), total),  # type: ignore[arg-type]
                        home / DENSE_NAME,
                        enc,
                        unit,
                        factory=HOME_FACTORY,
                        total=total,
                        corpus_hash=store.corpus_hash(),
                        docs_path=str(cfg.docs.resolve()),
                        chunk_size=chunk_size,
                        batch_size=BATCH_SIZE,
                        on_chunk=meter,
                    ).count
                )
            now_cfg = read_home_config(home)  # re-read: it may have changed while we encoded
            replace(
                now_cfg,
                indexes=(home / SPARSE_NAME, home / DENSE_NAME),
                fusion="interp",
                fusion_weight=DENSE_FUSION_WEIGHT,
                counts=replace(now_cfg.counts, dense_units=res),
            ).save()
        except BaseException as e:
            now = time.time()
            last = read_progress(home) or progress
            if isinstance(e, KeyboardInterrupt):
                write_progress(home, replace(last, state="stopped", updated=now, eta_s=None))
            else:
                error = f"{type(e).__name__}: {e}"
                write_progress(home, replace(last, state="failed", updated=now, eta_s=None, error=error))
            raise
        now = time.time()
        done = BuildProgress("done", os.getpid(), res, res, 0.0, 0.0, started, now)
        write_progress(home, done)
        log.info("dense index of %s complete: %d vectors in %.0f s", home, res, now - started)
        return done


def _complete_count(index: Path, corpus_hash: str, encoder_sha256: str) -> int | None:
    """The vector count of an existing index at ``index`` built from this corpus with this encoder
    (a rerun of quickstart on the same corpus keeps it), else None."""
    from drqa_ng.errors import DrqaError
    from drqa_ng.index_io import MANIFEST
    from drqa_ng.retrieval.dense import DenseManifest

    if not (index / MANIFEST).is_file():
        return None
    try:
        m = DenseManifest.load(index)
    except DrqaError:
        return None
    same = m.corpus_hash == corpus_hash and m.encoder.sha256 == encoder_sha256
    return m.count if same else None


def _idle_io() -> None:
    """Disk I/O at idle priority where Linux offers it (reads of the doc store yield to others)."""
    import psutil

    try:
        psutil.Process().ionice(psutil.IOPRIO_CLASS_IDLE)
    except (AttributeError, OSError, psutil.Error):  # not Linux, or not allowed
        log.info("idle I/O priority unavailable; CPU priority only")


def _on_term(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds through build_home_dense, which records the stop


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m indexing.background", description=__doc__)
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--encoder", help="encoder folder (default: the shipped MiniLM)")
    p.add_argument("--nice", type=int, default=NICE, help=f"priority increment (default {NICE})")
    p.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)  # the lock taken by the starter
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.nice(args.nice)  # before any thread starts: the encoder's threads inherit it
    _idle_io()
    signal.signal(signal.SIGTERM, _on_term)
    try:
        build_home_dense(args.home, args.encoder, lock_fd=args.lock_fd)
    except KeyboardInterrupt:
        log.info("stopped; run `drqa-ng status --start` to resume from the saved chunks")
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
