"""Admission by expected wait: ``ServiceRate``, ``AdmissionGate`` (with a hand-driven clock, so no
test depends on timing) and ``Admission`` (threads behind a gate)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from drqa_ng.errors import OverloadedError
from serving.admission import Admission, AdmissionGate, ServiceRate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_service_rate_is_units_per_busy_second_with_old_batches_decayed() -> None:
    r = ServiceRate(half_life_s=10.0)
    assert r.per_s is None
    r.add(10, 1.0)
    assert r.per_s == pytest.approx(10.0)
    r.add(30, 1.0)  # (10 * 0.5**0.1 + 30) / (1 * 0.5**0.1 + 1)
    d = 0.5**0.1
    assert r.per_s == pytest.approx((10 * d + 30) / (d + 1))
    for _ in range(200):  # a long stretch at 2 units/s forgets the old rate
        r.add(2, 1.0)
    assert r.per_s == pytest.approx(2.0, rel=1e-3)


def _measured_gate(clock: Clock, deadline_s: float = 2.0) -> AdmissionGate:
    """A gate that has seen 10 units finish in 1 busy second: 10 units/s."""
    gate = AdmissionGate(deadline_s, clock=clock, cold_units=100)
    gate.admit(10)
    clock.now += 1.0
    gate.finish(10)
    assert gate.rate.per_s == pytest.approx(10.0) and gate.load == 0
    return gate


def test_gate_sheds_what_would_finish_past_the_deadline_and_says_when_to_retry() -> None:
    clock = Clock()
    gate = _measured_gate(clock)
    gate.admit(15)  # nothing ahead: admitted whatever its size
    assert gate.expected_wait(5) == pytest.approx(2.0)
    gate.admit(5)  # (15 + 5) / 10 = 2.0 s: just within
    with pytest.raises(OverloadedError) as e:
        gate.admit(31)  # (20 + 31) / 10 = 5.1 s: past by 3.1 s
    assert e.value.http_status == 503 and e.value.retry_after == 4 and "5.1 s" in str(e.value)
    assert gate.shed == 1 and gate.load == 20 and gate.in_flight == 2


def test_gate_admits_a_big_request_when_nothing_is_ahead() -> None:
    clock = Clock()
    gate = _measured_gate(clock, deadline_s=0.5)
    gate.admit(1000)  # 100 s of work, but an idle server serves it
    with pytest.raises(OverloadedError):
        gate.admit(1)


def test_gate_cold_start_admits_only_cold_units_before_the_first_measurement() -> None:
    gate = AdmissionGate(2.0, clock=Clock(), cold_units=8)
    gate.admit(6)
    gate.admit(2)
    with pytest.raises(OverloadedError, match="measuring"):
        gate.admit(1)


def test_cancelled_units_leave_the_load_without_a_measurement() -> None:
    clock = Clock()
    gate = _measured_gate(clock)
    gate.admit(10)
    gate.admit(10)
    clock.now += 5.0
    gate.cancel(10)  # given up while waiting
    assert gate.load == 10 and gate.rate.per_s == pytest.approx(10.0)
    gate.finish(10)  # the 5 s of busy time go to the 10 units that were worked through
    assert gate.rate.per_s == pytest.approx((10 * 0.5**0.5 + 10) / (1 * 0.5**0.5 + 5))


def test_max_in_flight_is_a_hard_cap() -> None:
    gate = AdmissionGate(0, clock=Clock(), max_in_flight=2)
    gate.admit(1)
    gate.admit(1)
    with pytest.raises(OverloadedError, match="limit 2"):
        gate.admit(1)


def test_admission_runs_one_at_a_time_and_refuses_at_once_what_would_be_late() -> None:
    """Before: every call became a thread at once, and a caller waited for its deadline to hear 503."""
    release = threading.Event()
    order: list[str] = []

    def work(tag: str) -> str:
        order.append(tag)
        if tag == "slow":
            release.wait(10)
        return tag

    async def go() -> tuple[list[str], int]:
        clock = Clock()
        gate = _measured_gate(clock, deadline_s=2.0)  # 10 units/s
        adm = Admission(gate, concurrency=1)
        slow = asyncio.create_task(adm.run(work, "slow", units=5))
        while not order:
            await asyncio.sleep(0.001)
        queued = asyncio.create_task(adm.run(work, "queued", units=10))  # (5 + 10) / 10 = 1.5 s
        await asyncio.sleep(0.01)
        assert order == ["slow"]  # waits for the slot
        with pytest.raises(OverloadedError):
            await adm.run(work, "late", units=10)  # (15 + 10) / 10 = 2.5 s > 2 s: refused at once
        release.set()
        return [await slow, await queued], gate.shed

    done, shed = asyncio.run(go())
    assert done == ["slow", "queued"] and shed == 1 and order == ["slow", "queued"]


def test_admission_times_out_a_waiting_call_without_running_it() -> None:
    release = threading.Event()
    ran: list[str] = []

    def work(tag: str) -> str:
        ran.append(tag)
        release.wait(10)
        return tag

    async def go() -> AdmissionGate:
        gate = AdmissionGate(0, cold_units=100)
        adm = Admission(gate, concurrency=1, timeout_s=0.05)
        first = asyncio.create_task(adm.run(work, "first"))
        while not ran:
            await asyncio.sleep(0.001)
        with pytest.raises(OverloadedError, match="deadline"):
            await adm.run(work, "second")
        release.set()
        with pytest.raises(OverloadedError):
            await first  # itself past its 0.05 s deadline
        while gate.in_flight:
            await asyncio.sleep(0.001)
        return gate

    gate = asyncio.run(go())
    assert ran == ["first"] and gate.load == 0 and gate.timed_out == 2


def test_a_call_that_fails_after_its_timeout_logs_nothing_and_measures_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: the thread's late exception was "never retrieved" (an ERROR with a traceback in the
    server log), and an abandoned call's units were counted as work done."""
    import gc

    release = threading.Event()

    def work() -> None:
        release.wait(10)
        raise OverloadedError("gave up at its deadline")

    async def go() -> AdmissionGate:
        gate = AdmissionGate(0)
        adm = Admission(gate, concurrency=1, timeout_s=0.02)
        with pytest.raises(OverloadedError, match="within its deadline"):
            await adm.run(work, units=5)
        release.set()
        while gate.in_flight:
            await asyncio.sleep(0.001)
        return gate

    gate = asyncio.run(go())
    gc.collect()
    assert "never retrieved" not in caplog.text
    assert gate.load == 0 and gate.rate.per_s is None
