"""Worker process pools that die with the build that started them.

A ``ProcessPoolExecutor`` worker waits on its call queue; when its parent is killed with SIGKILL
nothing tells it, so an idle worker (and the ``multiprocessing`` resource tracker that it keeps
alive) lingered for minutes after ``kill -9`` of a build. Each worker started by ``worker_pool``
therefore

- asks the kernel for SIGKILL when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``; strictly,
  when the parent *thread* that started it ends, so a pool is used by the thread that made it, as
  ``indexing.sparse`` does inside one ``with`` block), and
- watches its parent from a daemon thread: when its parent pid changes (the parent died and the
  worker was handed to init), it exits at once. This also covers systems without ``prctl`` and a
  parent that died before the worker started.

With the workers gone the resource tracker sees its pipe close and exits too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent_signal() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux; nothing elsewhere (the watcher thread covers it)."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        ctypes.CDLL(name, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl in this libc: the watcher thread still runs
        return


def _watch_parent(parent_pid: int, poll_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(poll_s)
    os._exit(1)  # no cleanup to run: the parent that wanted our results is gone


def die_with_parent(parent_pid: int, poll_s: float = PARENT_POLL_S) -> None:
    """Pool initializer: end this worker when ``parent_pid`` (the process that made the pool) dies."""
    _die_with_parent_signal()
    if os.getppid() != parent_pid:  # the parent died before this worker got here
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid, poll_s), daemon=True, name="watch-parent"
    ).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-context process pool whose workers exit when this process dies (see module doc)."""
    ctx = mp.get_context("spawn")  # no fork: the parent may hold threads (sqlite, BLAS)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)
    )
