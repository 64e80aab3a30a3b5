from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence

import pytest

from drqa_ng.errors import InputError
from drqa_ng.types import Answer, Passage
from serving.batching import MicroBatcher

P = Passage("d#p0", "d", "T", "text", 0, 4)


def _answers(questions: Sequence[str], top_n: int, k: int | None = None) -> list[list[Answer]]:
    out = []
    for q in questions:
        if q == "bad":
            raise InputError("bad question")
        out.append([Answer(f"{q}-{i}", float(-i), P, 0, 1, 0.0, 0.0) for i in range(top_n)])
    return out


def test_concurrent_submits_are_batched_and_split_back() -> None:
    calls: list[int] = []

    def fn(qs: Sequence[str], top_n: int, k: int | None = None) -> list[list[Answer]]:
        calls.append(len(qs))
        time.sleep(0.01)
        return _answers(qs, top_n)

    async def go() -> list[list[list[Answer]]]:
        b = MicroBatcher(fn, max_batch=8, max_wait_ms=50)
        await b.start()
        try:
            return await asyncio.gather(*(b.submit([f"q{i}"], top_n=1 + i % 3) for i in range(20)))
        finally:
            await b.stop()

    results = asyncio.run(go())
    for i, res in enumerate(results):
        assert [a.text for a in res[0]] == [f"q{i}-{j}" for j in range(1 + i % 3)]
    assert sum(calls) == 20 and len(calls) < 20 and max(calls) <= 8


def test_one_bad_request_does_not_fail_its_neighbours() -> None:
    async def go() -> list[object]:
        b = MicroBatcher(_answers, max_batch=8, max_wait_ms=50)
        await b.start()
        try:
            return await asyncio.gather(
                b.submit(["good"], 1), b.submit(["bad"], 1), b.submit(["fine"], 1), return_exceptions=True
            )
        finally:
            await b.stop()

    good, bad, fine = asyncio.run(go())
    assert isinstance(bad, InputError)
    assert good[0][0].text == "good-0" and fine[0][0].text == "fine-0"  # type: ignore[index]


def test_submit_before_start_fails() -> None:
    with pytest.raises(RuntimeError):
        asyncio.run(MicroBatcher(_answers).submit(["q"], 1))


def test_full_queue_is_refused_at_once_with_overloaded_error() -> None:
    """Before: submits queued without bound. After: the (max_pending+1)-th waits for nothing and gets 503."""
    from drqa_ng.errors import OverloadedError

    async def go() -> tuple[int, int]:
        gate = asyncio.Event()
        loop = asyncio.get_running_loop()

        def fn(qs: Sequence[str], top_n: int, k: int | None = None) -> list[list[Answer]]:
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()
            return _answers(qs, top_n)

        b = MicroBatcher(fn, max_batch=1, max_wait_ms=0, max_pending=2, retry_after_s=7)
        await b.start()
        try:
            first = [asyncio.create_task(b.submit([f"q{i}"], 1)) for i in range(2)]
            while b.pending < 2:
                await asyncio.sleep(0.001)
            with pytest.raises(OverloadedError) as e:
                await b.submit(["q2"], 1)
            assert e.value.retry_after == 7 and e.value.http_status == 503
            gate.set()
            done = await asyncio.gather(*first)
            return len(done), b.rejected
        finally:
            await b.stop()

    assert asyncio.run(go()) == (2, 1)


def test_request_past_its_deadline_gets_overloaded_error_and_is_dropped() -> None:
    from drqa_ng.errors import OverloadedError

    seen: list[str] = []

    async def go() -> int:
        release = asyncio.Event()
        loop = asyncio.get_running_loop()

        def fn(qs: Sequence[str], top_n: int, k: int | None = None) -> list[list[Answer]]:
            seen.extend(qs)
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
            return _answers(qs, top_n)

        b = MicroBatcher(fn, max_batch=1, max_wait_ms=0, max_pending=10)
        await b.start()
        try:
            slow = asyncio.create_task(b.submit(["busy"], 1))
            while not seen:
                await asyncio.sleep(0.001)
            with pytest.raises(OverloadedError, match="deadline"):
                await b.submit(["late"], 1, timeout=0.01)
            release.set()
            await slow
            await asyncio.sleep(0.01)
            return b.pending
        finally:
            await b.stop()

    assert asyncio.run(go()) == 0
    assert seen == ["busy"]  # the expired request never reached the reader


def _top_n_of(i: int) -> int:
    return 1 + i % 3


def _k_of(i: int) -> int | None:
    return None if i % 2 else 3


@pytest.mark.parametrize("field", ["top_n", "k"])
def test_requests_with_different_top_n_or_k_are_never_read_together(field: str) -> None:
    """``top_n`` sets how many candidates the pipeline ranks and ``k`` how many units it retrieves,
    so mixing requests that differ in either would change answers."""
    calls: list[tuple[int | None, list[str]]] = []

    def fn(qs: Sequence[str], top_n: int, k: int | None = None) -> list[list[Answer]]:
        calls.append((top_n if field == "top_n" else k, list(qs)))
        time.sleep(0.01)
        return _answers(qs, top_n)

    def submit(b: MicroBatcher, i: int) -> Awaitable[list[list[Answer]]]:
        if field == "top_n":
            return b.submit([f"q{i}"], top_n=_top_n_of(i))
        return b.submit([f"q{i}"], 1, k=_k_of(i))

    async def go() -> None:
        b = MicroBatcher(fn, max_batch=32, max_wait_ms=50)
        await b.start()
        try:
            await asyncio.gather(*(submit(b, i) for i in range(12)))
        finally:
            await b.stop()

    asyncio.run(go())
    expected = _top_n_of if field == "top_n" else _k_of
    for value, qs in calls:
        assert all(expected(int(q[1:])) == value for q in qs), (value, qs)
    assert len(calls) < 12  # still batched


def test_with_a_gate_questions_enter_and_leave_its_load() -> None:
    """Admitted questions count in the gate's load until read; one given up while still queued
    leaves it unmeasured, the one being read is measured when its batch ends."""
    from drqa_ng.errors import OverloadedError
    from serving.admission import AdmissionGate

    seen: list[str] = []

    async def go() -> AdmissionGate:
        release = asyncio.Event()
        loop = asyncio.get_running_loop()

        def fn(qs: Sequence[str], top_n: int, k: int | None = None) -> list[list[Answer]]:
            seen.extend(qs)
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
            return _answers(qs, top_n)

        gate = AdmissionGate(0)
        b = MicroBatcher(fn, max_batch=1, max_wait_ms=0, gate=gate)
        await b.start()
        try:
            slow = asyncio.create_task(b.submit(["busy", "two"], 1))
            while not seen:
                await asyncio.sleep(0.001)
            assert gate.load == 2
            with pytest.raises(OverloadedError, match="deadline"):
                await b.submit(["late"], 1, timeout=0.01)
            assert gate.load == 2 and gate.timed_out == 1  # "late" never reached the reader
            release.set()
            await slow
            return gate
        finally:
            await b.stop()

    gate = asyncio.run(go())
    assert gate.load == 0 and gate.in_flight == 0 and gate.rate.units == 2
