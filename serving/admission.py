"""``Admission``: a bounded number of blocking calls in worker threads, each with a deadline.

Used where requests are not micro-batched (``/v1/search``): without it every request becomes a
thread-pool job and, under load, the pool's queue grows without bound. A call over ``limit`` is
refused at once with ``OverloadedError`` (HTTP 503 + Retry-After); a call not finished within
``timeout_s`` also gets ``OverloadedError``, but keeps its slot until its thread really ends, so
abandoned work still counts against the limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from drqa_ng.errors import OverloadedError

T = TypeVar("T")


class Admission:
    """At most ``limit`` calls in flight (0 = no limit); ``timeout_s`` per call (0 = none)."""

    def __init__(
        self, limit: int, timeout_s: float = 0.0, retry_after_s: int = 1, name: str = "requests"
    ) -> None:
        self.limit = max(0, limit)
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.name = name
        self.in_flight = 0
        self.rejected = 0
        self.timed_out = 0

    def _release(self, _: object) -> None:
        self.in_flight -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in the default thread pool, admitted only while under the limit."""
        if self.limit and self.in_flight >= self.limit:
            self.rejected += 1
            raise OverloadedError(
                f"server busy: {self.in_flight} {self.name} in progress (limit {self.limit}); retry later",
                self.retry_after_s,
            )
        self.in_flight += 1
        fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        fut.add_done_callback(self._release)
        if self.timeout_s <= 0:
            return await fut
        try:
            # shield: on timeout the thread cannot be stopped, so ``fut`` must stay alive to release the slot.
            return await asyncio.wait_for(asyncio.shield(fut), self.timeout_s)
        except TimeoutError:
            if fut.done() and not fut.cancelled() and fut.exception() is not None:
                raise
            self.timed_out += 1
            raise OverloadedError(
                f"request not answered within its deadline of {self.timeout_s:g} s; retry later",
                self.retry_after_s,
            ) from None
