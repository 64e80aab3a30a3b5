"""Run index builds as Ray tasks over shards of a doc store; resumable, with task retries.

The corpus is cut into shards of consecutive units by key range (``DocStore.unit_keys``), a
multiple of the builder's chunk size so the shards cut the stream exactly where the single-process
build cuts its chunks (the dense encoder then sees the same batches and writes the same vectors).
Each shard is one Ray task that writes its output folder ``shard-NNNNN`` under a work folder; the
task writes to a temp name and renames it, so a finished shard folder is always complete.

Fault tolerance:

- a worker process that dies (OOM kill, node loss) has its task re-run by Ray (``max_retries``);
- a driver that dies leaves the finished shard folders; run the same command again and only the
  missing shards are computed (the work folder records the build settings in ``work.json`` and
  is discarded when they differ).

Ray is used rather than a home-made scheduler: it gives scheduling over many machines, retries,
resource-aware placement (GPUs) and ``ray.init()`` starting a local cluster when no address is given.
Workers on other machines must see the doc store and the work folder at the same paths (a shared
file system) and have drqa-ng installed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drqa_ng.errors import InputError, UnsupportedError
from drqa_ng.store.docstore import DocStore, UnitKey
from drqa_ng.types import Unit

log = logging.getLogger(__name__)

DONE_FILE = "done.json"
DEFAULT_MAX_RETRIES = 3
CANCEL_SETTLE_S = 60.0  # upper bound on waiting for cancelled shard tasks to stop


@dataclass(frozen=True, slots=True)
class Shard:
    """Units ``[start, stop)`` of the store (None: open end), rows ``first_row`` .. ``first_row + units``."""

    index: int
    start: UnitKey | None
    stop: UnitKey | None
    first_row: int
    units: int

    @property
    def name(self) -> str:
        return f"shard-{self.index:05d}"


@dataclass(frozen=True, slots=True)
class ShardRun:
    """What ``run_shards`` did: shard folders in order, and how many were computed now vs resumed."""

    folders: tuple[Path, ...]
    computed: tuple[int, ...]
    """Indexes of the shards computed in this run (the others were resumed)."""
    resumed: int


def plan_shards(store: DocStore, unit: Unit, shard_units: int) -> list[Shard]:
    """Consecutive shards of ``shard_units`` units each (the last may be shorter)."""
    if shard_units < 1:
        raise InputError(f"shard size must be >= 1, got {shard_units}")
    total = store.count(unit)
    keys = store.unit_keys(unit, shard_units)
    shards = []
    for i, start in enumerate(keys):
        stop = keys[i + 1] if i + 1 < len(keys) else None
        first = i * shard_units
        shards.append(Shard(i, None if i == 0 else start, stop, first, min(shard_units, total - first)))
    return shards


def shard_size(total: int, chunk_size: int, target_shards: int) -> int:
    """Units per shard: about ``total / target_shards``, rounded up to a multiple of ``chunk_size``."""
    per = -(-max(total, 1) // max(target_shards, 1))
    return max(chunk_size, -(-per // chunk_size) * chunk_size)


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Connect to Ray: an existing session is reused; otherwise ``ray.init(address)`` (None starts a
    local cluster with ``num_cpus`` CPUs) and it is shut down on exit."""
    try:
        import ray
    except ImportError as e:
        raise UnsupportedError('--engine ray needs Ray: pip install "drqa-ng[scale]"') from e
    if ray.is_initialized():
        yield ray
        return
    # Workers must import this checkout, not whatever drqa_ng the nodes have installed elsewhere.
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env} if env else None,
        )
    except Exception as e:  # ray.init raises bare Exception on start-up timeouts; one line for the CLI
        raise UnsupportedError(f"cannot start or join a Ray cluster ({address or 'local'}): {e}") from e
    try:
        yield ray
    finally:
        ray.shutdown()


def shard_done(folder: Path) -> dict[str, Any] | None:
    """The ``done.json`` of a finished shard folder, or None."""
    try:
        data = json.loads((folder / DONE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def shard_output(dest: Path) -> Iterator[Path]:
    """A temp folder beside ``dest`` renamed to ``dest`` when the block ends without error."""
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{time.monotonic_ns()}")
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():  # a retried task whose first attempt finished after all: same content
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def run_shards(
    task: Callable[..., Any],
    shards: Sequence[Shard],
    work: Path,
    args: Sequence[Any],
    *,
    num_cpus: float = 1,
    num_gpus: float = 0,
    max_retries: int = DEFAULT_MAX_RETRIES,
    on_shard: Callable[[int], None] | None = None,
) -> ShardRun:
    """Run ``task(shard, dest_folder, *args)`` as one Ray task per unfinished shard; wait for all.

    ``task`` must write ``dest_folder`` (through ``shard_output``) with a ``done.json``. Shards
    whose folder is already done are skipped. ``on_shard(i)`` is called in the driver as each shard
    finishes (progress; tests interrupt there). A task error is raised after Ray's retries.
    """
    import ray

    folders = tuple(work / s.name for s in shards)
    todo = [s for s, f in zip(shards, folders, strict=True) if shard_done(f) is None]
    resumed = len(shards) - len(todo)
    if resumed:
        log.info("resuming: %d of %d shards already done", resumed, len(shards))
    remote = ray.remote(task).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries)
    pending = {remote.remote(s, work / s.name, *args): s.index for s in todo}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                ray.get(ref)  # raises the task's error
                log.info("shard %d done (%d left)", i, len(pending))
                if on_shard is not None:
                    on_shard(i)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if pending:
            # Cancelling is asynchronous: wait until every cancelled task has stopped (or finished
            # after all), so no task of this run still writes a shard folder once we return; a
            # resumed run then sees exactly the shards that are done.
            ray.wait(list(pending), num_returns=len(pending), timeout=CANCEL_SETTLE_S)
    return ShardRun(folders, tuple(s.index for s in todo), resumed)
