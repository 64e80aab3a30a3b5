"""Two stages that overlap: a producer thread prepares item i+1 while the caller finishes item i.

The QA chain has a CPU-side stage (retrieve, fetch passages, tokenise, build windows) and a model
stage (the reader). Run one after the other, each waits while the other works. ``run_stages`` puts
a bounded queue between them (as torch's ``DataLoader`` prefetches and OneFlow pipelines): a
thread runs ``prepare`` over the items and puts each result into a ``queue.Queue(maxsize=depth)``;
the caller's thread takes them in order and runs ``finish``. When the queue is full the producer
blocks (backpressure: at most ``depth`` prepared items wait, so memory stays bounded however many
items come); when it is empty the consumer blocks. ``overlap=False`` runs the same two functions
one after the other in the caller's thread, so both paths compute exactly the same values.

``StageClock`` records where each stage spent the wall time: ``prepare_busy`` / ``finish_busy``
(working) and ``prepare_wait`` (blocked on a full queue: the reader is the bottleneck) /
``finish_wait`` (blocked on an empty queue: preparation is). Sequentially each stage waits for the
whole of the other's work.

An exception raised by ``prepare`` travels through the queue and is raised by the generator at that
item's position (items before it are finished first); closing the generator early stops the
producer thread. Torch, onnxruntime, numpy and the Rust tokenizers release the GIL in their hot
loops, which is what lets a Python thread overlap with the reader at all.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")

DEFAULT_DEPTH = 2
_POLL_S = 0.05  # how often a blocked producer looks whether the consumer went away
_JOIN_S = 5.0  # a producer stuck in its items (an interactive stdin) is left to die with the process


@dataclass
class StageClock:
    """Accumulated seconds per stage (mutable: one clock per run, filled in by ``run_stages``)."""

    wall: float = 0.0
    prepare_busy: float = 0.0
    prepare_wait: float = 0.0
    finish_busy: float = 0.0
    finish_wait: float = 0.0
    items: int = 0
    max_queued: int = 0

    def shares(self) -> StageShares:
        """The waits as shares of the wall time (0 when nothing ran)."""
        w = self.wall if self.wall > 0 else 1.0
        return StageShares(
            prepare_wait=self.prepare_wait / w,
            finish_wait=self.finish_wait / w,
            prepare_busy=self.prepare_busy / w,
            finish_busy=self.finish_busy / w,
        )


@dataclass(frozen=True, slots=True)
class StageShares:
    """Shares of the wall time each stage waited or worked (a stage's busy + wait ≤ 1)."""

    prepare_wait: float
    finish_wait: float
    prepare_busy: float
    finish_busy: float


class _Failed:
    """An exception raised while preparing, passed through the queue to the consumer."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


_DONE = object()


def run_stages(
    items: Iterable[T],
    prepare: Callable[[T], P],
    finish: Callable[[P], R],
    *,
    overlap: bool = True,
    depth: int = DEFAULT_DEPTH,
    clock: StageClock | None = None,
) -> Iterator[R]:
    """``finish(prepare(item))`` for each item, in order; with ``overlap`` the two run in parallel.

    ``depth`` (≥ 1) bounds how many prepared items may wait for ``finish``. ``clock`` collects the
    busy and wait times of both stages.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    clk = clock if clock is not None else StageClock()
    if overlap:
        return _overlapped(items, prepare, finish, depth, clk)
    return _sequential(items, prepare, finish, clk)


def _sequential(
    items: Iterable[T], prepare: Callable[[T], P], finish: Callable[[P], R], clk: StageClock
) -> Iterator[R]:
    t_start = time.perf_counter()
    try:
        for item in items:
            t0 = time.perf_counter()
            prepared = prepare(item)
            t1 = time.perf_counter()
            result = finish(prepared)
            t2 = time.perf_counter()
            clk.prepare_busy += t1 - t0
            clk.finish_wait += t1 - t0
            clk.finish_busy += t2 - t1
            clk.prepare_wait += t2 - t1
            clk.items += 1
            clk.max_queued = max(clk.max_queued, 1)
            yield result
    finally:
        clk.wall += time.perf_counter() - t_start


def _overlapped(
    items: Iterable[T], prepare: Callable[[T], P], finish: Callable[[P], R], depth: int, clk: StageClock
) -> Iterator[R]:
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(obj: object) -> bool:
        """Blocking put that gives up when the consumer has gone (returns False)."""
        t0 = time.perf_counter()
        try:
            while not stop.is_set():
                try:
                    q.put(obj, timeout=_POLL_S)
                    clk.max_queued = max(clk.max_queued, q.qsize())
                    return True
                except queue.Full:
                    continue
            return False
        finally:
            clk.prepare_wait += time.perf_counter() - t0

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                try:
                    prepared: object = prepare(item)
                except Exception as e:  # handed to the consumer, raised there at this item's place
                    prepared = _Failed(e)
                clk.prepare_busy += time.perf_counter() - t0
                if not put(prepared) or isinstance(prepared, _Failed):
                    return
        except Exception as e:  # the items iterator itself failed
            put(_Failed(e))
            return
        put(_DONE)

    t_start = time.perf_counter()
    producer = threading.Thread(target=produce, name="drqa-ng-prepare", daemon=True)
    producer.start()
    try:
        while True:
            t0 = time.perf_counter()
            got = q.get()
            t1 = time.perf_counter()
            clk.finish_wait += t1 - t0
            if got is _DONE:
                return
            if isinstance(got, _Failed):
                raise got.error
            result = finish(got)  # type: ignore[arg-type]
            clk.finish_busy += time.perf_counter() - t1
            clk.items += 1
            yield result
    finally:
        stop.set()
        producer.join(timeout=_JOIN_S)
        clk.wall += time.perf_counter() - t_start
