"""Micro-batching: concurrent requests are gathered for a few ms and read as one batch in a worker thread.

Why: the reader is far cheaper per question in a batch than one at a time, and the event loop must
never block on model code. Requests are validated before they are queued, so one bad request does
not fail its neighbours; if a joint batch still fails, each request is retried alone so the error
reaches only the request that caused it.

Backpressure: with a ``gate`` (``serving.admission.AdmissionGate``, units = questions) a request
whose expected wait (questions ahead / measured questions per second) is past the gate's deadline
is refused at once with ``OverloadedError`` (HTTP 503 + Retry-After); at most ``max_pending``
requests are queued or being read at once in any case. A request whose ``timeout`` passes first is
dropped from the queue (a batch already in the reader finishes, its answer discarded) and gets
``OverloadedError`` too.

A request's answers never depend on who else was batched with it: the pipeline and the reader
compute each question on its own (``drqa_ng.reading.reader``), and jobs asking for different
``top_n`` or ``k`` are never merged into one call (``top_n`` sets how many candidates the pipeline
ranks, ``k`` how many units it retrieves).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drqa_ng.errors import OverloadedError
from drqa_ng.pipeline import QAResult
from serving.admission import AdmissionGate

log = logging.getLogger(__name__)

AskFn = Callable[[Sequence[str], int, int | None], list[QAResult]]
"""``fn(questions, top_n, k)``: ``QAPipeline.answer`` of the checked questions (``k=None``: the
pipeline's own ``k``); one ``QAResult`` per question."""


@dataclass
class _Job:
    questions: list[str]
    top_n: int
    k: int | None
    future: asyncio.Future[list[QAResult]]
    taken: bool = False  # handed to the reader (its questions then count as worked through)


class MicroBatcher:
    """Queue ``submit`` calls; a worker task runs ``fn`` on up to ``max_batch`` questions at a time."""

    def __init__(
        self,
        fn: AskFn,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        *,
        max_pending: int = 0,
        retry_after_s: int = 1,
        gate: AdmissionGate | None = None,
    ) -> None:
        self.fn = fn
        self.max_batch = max(1, max_batch)
        self.max_wait = max(0.0, max_wait_ms) / 1000.0
        self.max_pending = max(0, max_pending)  # 0 = unbounded
        self.retry_after_s = retry_after_s
        self.gate = gate
        self.batches = 0
        self.questions = 0
        self.rejected = 0
        self.timed_out = 0
        self._pending = 0
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="drqa-ng-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def pending(self) -> int:
        """Requests queued or being read now."""
        return self._pending

    async def submit(
        self, questions: Sequence[str], top_n: int, timeout: float | None = None, *, k: int | None = None
    ) -> list[QAResult]:
        """Answers for ``questions``; OverloadedError when the queue is full or ``timeout`` s pass first."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not awaited")
        if self.max_pending and self._pending >= self.max_pending:
            self.rejected += 1
            raise OverloadedError(
                f"server busy: {self._pending} ask requests waiting (max_queue={self.max_pending}); retry later",
                self.retry_after_s,
            )
        if self.gate is not None:
            self.gate.admit(len(questions))
        fut: asyncio.Future[list[QAResult]] = asyncio.get_running_loop().create_future()
        job = _Job(list(questions), top_n, k, fut)
        self._pending += 1
        try:
            self._queue.put_nowait(job)
            if timeout is None or timeout <= 0:
                return await fut
            # wait_for cancels ``fut`` on timeout, so the worker skips the job if it is still queued.
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            if not fut.cancelled():  # a TimeoutError raised by ``fn`` itself
                raise
            if self.gate is not None:
                self.gate.timed_out += 1
                if not job.taken:  # never read: its questions leave the load unworked
                    self.gate.cancel(len(job.questions))
            self.timed_out += 1
            raise OverloadedError(
                f"request not answered within its deadline of {timeout:g} s; retry later", self.retry_after_s
            ) from None
        finally:
            self._pending -= 1

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            jobs = [await self._queue.get()]
            size = len(jobs[0].questions)
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), timeout=left)
                except TimeoutError:
                    break
                jobs.append(job)
                size += len(job.questions)
            await self._process(jobs)

    async def _process(self, jobs: list[_Job]) -> None:
        groups: dict[tuple[int, int | None], list[_Job]] = {}
        for j in jobs:
            if not j.future.cancelled():
                j.taken = True
                groups.setdefault((j.top_n, j.k), []).append(j)
        for (top_n, k), group in groups.items():
            await self._process_group(group, top_n, k)

    async def _process_group(self, jobs: list[_Job], top_n: int, k: int | None) -> None:
        try:
            await self._read_group(jobs, top_n, k)
        finally:
            if self.gate is not None:
                for j in jobs:  # one finish per request: its questions were read (answered or not)
                    self.gate.finish(len(j.questions))

    async def _read_group(self, jobs: list[_Job], top_n: int, k: int | None) -> None:
        questions = [q for j in jobs for q in j.questions]
        self.batches += 1
        self.questions += len(questions)
        try:
            answers = await asyncio.to_thread(self.fn, questions, top_n, k)
        except Exception as e:  # re-run alone below so the error reaches only its own request
            if len(jobs) == 1:
                _set_exception(jobs[0], e)
                return
            log.info("joint batch of %d requests failed (%s); retrying one by one", len(jobs), e)
            for j in jobs:
                try:
                    _set_result(j, await asyncio.to_thread(self.fn, j.questions, j.top_n, j.k))
                except Exception as e1:
                    _set_exception(j, e1)
            return
        pos = 0
        for j in jobs:
            part = answers[pos : pos + len(j.questions)]
            pos += len(j.questions)
            _set_result(j, part)


def _set_result(job: _Job, value: list[QAResult]) -> None:
    if not job.future.done():
        job.future.set_result(value)


def _set_exception(job: _Job, exc: Exception) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
