from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from drqa_ng.stages import StageClock, run_stages


def test_overlapped_and_sequential_give_the_same_results_in_order() -> None:
    items = list(range(30))
    seq = list(run_stages(items, lambda x: x * 2, lambda p: p + 1, overlap=False))
    ovl = list(run_stages(items, lambda x: x * 2, lambda p: p + 1, overlap=True, depth=3))
    assert seq == ovl == [2 * x + 1 for x in items]


def test_prepare_runs_ahead_of_finish_in_another_thread() -> None:
    seen: list[tuple[str, int, str]] = []
    main = threading.current_thread().name
    release = threading.Event()

    def prepare(x: int) -> int:
        seen.append(("prepare", x, threading.current_thread().name))
        if x == 1:
            release.set()  # item 1 is prepared while item 0 is being finished
        return x

    def finish(x: int) -> int:
        if x == 0:
            assert release.wait(5.0), "item 1 was not prepared while item 0 was finishing"
        seen.append(("finish", x, threading.current_thread().name))
        return x

    assert list(run_stages(range(3), prepare, finish, overlap=True)) == [0, 1, 2]
    assert all(t != main for op, _, t in seen if op == "prepare")
    assert all(t == main for op, _, t in seen if op == "finish")


def test_bounded_queue_holds_the_producer_back() -> None:
    prepared: list[int] = []
    clock = StageClock()

    def slow_finish(x: int) -> int:
        # while item x is finished, at most depth (2) more items may be prepared beyond it (+1 in hand)
        time.sleep(0.02)
        assert len(prepared) <= x + 1 + 2 + 1
        return x

    out = list(run_stages(range(12), lambda x: prepared.append(x) or x, slow_finish, depth=2, clock=clock))
    assert out == list(range(12))
    assert clock.max_queued <= 2
    assert clock.items == 12
    assert clock.prepare_wait > 0  # the producer had to wait for room


def test_a_failed_prepare_is_raised_at_its_position() -> None:
    def prepare(x: int) -> int:
        if x == 3:
            raise ValueError("bad item 3")
        return x

    got: list[int] = []
    for overlap in (False, True):
        got = []
        with pytest.raises(ValueError, match="bad item 3"):
            for r in run_stages(range(6), prepare, lambda p: p, overlap=overlap):
                got.append(r)
        assert got == [0, 1, 2]


def test_closing_the_stream_early_stops_the_producer() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    stream = run_stages(endless(), lambda x: x, lambda p: p, depth=1)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()  # type: ignore[attr-defined]
    n = len(produced)
    time.sleep(0.2)
    assert len(produced) == n  # nothing more is pulled after close
    assert n <= 3 + 1 + 1


def test_clock_sequential_shares_add_up() -> None:
    clock = StageClock()

    def prepare(x: int) -> int:
        time.sleep(0.01)
        return x

    list(run_stages(range(5), prepare, lambda p: p, overlap=False, clock=clock))
    s = clock.shares()
    # sequentially, the reader waits exactly while the CPU stage works and vice versa
    assert s.finish_wait == pytest.approx(s.prepare_busy)
    assert s.prepare_wait == pytest.approx(s.finish_busy)
    assert 0.0 < s.prepare_busy + s.finish_busy <= 1.0 + 1e-9


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError):
        run_stages([1], lambda x: x, lambda p: p, depth=0)
