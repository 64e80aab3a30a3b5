"""Admission by expected wait: refuse at once (503 + Retry-After) a request that would finish past its
deadline, instead of queueing it to time out later.

Little's law: the wait of a new request is the work ahead of it divided by the rate the server
works through it. ``ServiceRate`` measures that rate as the server runs (work units finished per
busy second, decayed so the last ~``half_life_s`` busy seconds count most); ``AdmissionGate`` keeps
the work admitted and not yet finished (``load``) and admits a request of ``units`` only while

    expected_wait = (load + units) / rate  <=  deadline_s

so the queue holds at most one deadline's worth of work whatever the arrival rate, and a refused
client hears so within the time it takes to compare two numbers. Two exceptions: a request that
finds nothing ahead of it is always admitted (a large request on an idle server is served, not
refused forever); before the first measurement (cold start) at most ``cold_units`` are admitted
(0: only a request with nothing ahead, which the server's own routes use: a first guess of the
rate would let in a burst that a slow machine takes far longer than the deadline to work through).
A hard cap on requests in flight (``max_in_flight``) still bounds memory.

A "unit" is whatever the work scales with: a question for ``/v1/ask`` (the micro-batcher reads
questions), a query for ``/v1/search``, a recognised frame-segment for ``/v1/video/ask``.

``Admission`` runs blocking calls in worker threads behind a gate (``/v1/search``,
``/v1/video/ask``): at most ``concurrency`` at once, the others wait their turn (and count in
``load``), each with a hard ``timeout_s``. Netflix's concurrency-limits and Envoy's adaptive
concurrency admit by measured latency in the same spirit.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from drqa_ng.errors import OverloadedError

T = TypeVar("T")


@dataclass
class ServiceRate:
    """Work units finished per busy second, with older measurements decayed by busy time.

    After ``add(u_i, b_i)`` for batches i: ``rate = sum_i d_i u_i / sum_i d_i b_i`` where
    ``d_i = 0.5 ** (busy seconds since batch i / half_life_s)``: a throughput, so batching (many
    units per call) and concurrency (calls overlapping in time) are both measured as they happen.
    """

    half_life_s: float = 10.0
    units: float = 0.0
    busy_s: float = 0.0

    def add(self, units: float, busy_s: float) -> None:
        decay = 0.5 ** (max(busy_s, 0.0) / self.half_life_s)
        self.units = self.units * decay + units
        self.busy_s = self.busy_s * decay + max(busy_s, 0.0)

    @property
    def per_s(self) -> float | None:
        """Units per busy second, or None before anything was measured."""
        if self.units <= 0 or self.busy_s <= 0:
            return None
        return self.units / self.busy_s


class AdmissionGate:
    """Admit work by its expected wait against ``deadline_s`` (see the module doc); not thread-safe:
    call it from the event loop only."""

    def __init__(
        self,
        deadline_s: float,
        *,
        name: str = "requests",
        max_in_flight: int = 0,
        cold_units: float = 1.0,
        retry_after_s: int = 1,
        half_life_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deadline_s = deadline_s
        self.name = name
        self.max_in_flight = max(0, max_in_flight)
        self.cold_units = cold_units
        self.retry_after_s = max(1, retry_after_s)
        self.rate = ServiceRate(half_life_s)
        self.clock = clock
        self.load = 0.0  # units admitted and not yet finished or given up
        self.in_flight = 0  # requests admitted and not yet finished or given up
        self.admitted = 0
        self.shed = 0
        self.timed_out = 0
        self._busy_s = 0.0  # busy time not yet attributed to finished units
        self._mark = clock()

    def _advance(self) -> None:
        now = self.clock()
        if self.load > 0:
            self._busy_s += now - self._mark
        self._mark = now

    def expected_wait(self, units: float) -> float | None:
        """Seconds until ``units`` more would be finished, or None before the first measurement."""
        rate = self.rate.per_s
        return None if rate is None else (self.load + units) / rate

    def _refuse(self, why: str, retry_after: float) -> OverloadedError:
        self.shed += 1
        return OverloadedError(
            f"server busy: {why}; retry later", max(self.retry_after_s, math.ceil(retry_after))
        )

    def admit(self, units: float) -> None:
        """Count ``units`` as admitted, or raise OverloadedError (503) with a Retry-After estimate."""
        self.check(units)
        self._advance()
        self.load += units
        self.in_flight += 1
        self.admitted += 1

    def check(self, units: float) -> None:
        """OverloadedError if ``units`` would be refused now (counted as shed); nothing is admitted.

        Refusal only grows with ``units``, so ``check(1)`` refusing means every request would be: the
        server may then refuse before it parses a request at all (``RequestGuard``).
        """
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            raise self._refuse(f"{self.in_flight} {self.name} in progress (limit {self.max_in_flight})", 0)
        if self.load > 0 and self.deadline_s > 0:
            wait = self.expected_wait(units)
            if wait is None:
                if self.load + units > self.cold_units:
                    raise self._refuse(f"measuring the service rate of {self.name}", 0)
            elif wait > self.deadline_s:
                raise self._refuse(
                    f"expected wait {wait:.1f} s is past the deadline of {self.deadline_s:g} s",
                    wait - self.deadline_s,
                )

    def finish(self, units: float) -> None:
        """``units`` were worked through (answered or not): they feed the rate and leave the load."""
        self._advance()
        self.rate.add(units, self._busy_s)
        self._busy_s = 0.0
        self._leave(units)

    def cancel(self, units: float) -> None:
        """``units`` leave without being worked on (given up while waiting): no rate measurement."""
        self._advance()
        self._leave(units)

    def _leave(self, units: float) -> None:
        self.load = max(0.0, self.load - units)
        self.in_flight = max(0, self.in_flight - 1)


class Admission:
    """Blocking calls in worker threads behind an ``AdmissionGate``: ``concurrency`` at once (0 = no
    limit), each refused at once or answered, or given OverloadedError after ``timeout_s`` (0 = none)."""

    def __init__(self, gate: AdmissionGate, *, concurrency: int = 0, timeout_s: float = 0.0) -> None:
        self.gate = gate
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None

    async def run(self, fn: Callable[..., T], *args: object, units: float = 1.0) -> T:
        """``fn(*args)`` in the default thread pool once admitted and a slot is free."""
        gate = self.gate
        gate.admit(units)
        deadline = None if self.timeout_s <= 0 else asyncio.get_running_loop().time() + self.timeout_s
        if self._slots is not None:
            try:
                await asyncio.wait_for(self._slots.acquire(), _left(deadline))
            except BaseException:  # timed out (or cancelled) while waiting for a slot: nothing ran
                gate.cancel(units)
                if deadline is not None and _left(deadline) == 0:
                    gate.timed_out += 1
                    raise self._late() from None
                raise
        fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        slots = self._slots

        def _done(f: asyncio.Future[T]) -> None:  # when the thread really ends, even after a timeout
            error = None if f.cancelled() else f.exception()  # retrieved: a late failure is not logged
            if isinstance(error, OverloadedError):
                # Abandoned part way (past its deadline, server stopping): no measurement of its units;
                # its busy time goes to the next units finished, so the rate errs low, not high.
                gate.cancel(units)
            else:
                gate.finish(units)
            if slots is not None:
                slots.release()

        fut.add_done_callback(_done)
        if deadline is None:
            return await fut
        try:
            # shield: on timeout the thread cannot be stopped, so ``fut`` must stay alive to free its slot.
            return await asyncio.wait_for(asyncio.shield(fut), _left(deadline))
        except TimeoutError:
            if fut.done() and not fut.cancelled() and fut.exception() is not None:
                raise
            gate.timed_out += 1
            raise self._late() from None

    def _late(self) -> OverloadedError:
        return OverloadedError(
            f"request not answered within its deadline of {self.timeout_s:g} s; retry later",
            self.gate.retry_after_s,
        )


def _left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(0.0, deadline - asyncio.get_running_loop().time())
