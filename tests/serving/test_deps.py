"""``serving.deps``: the shared reader takes turns with the batcher's asks through one lock."""

from __future__ import annotations

import threading

from serving.deps import LockedReader
from tests.serving.fakes import FakeReader, FakeStore


def test_locked_reader_reads_only_while_no_one_else_holds_the_lock() -> None:
    lock = threading.Lock()
    reader = LockedReader(FakeReader(), lock)
    passages = [list(FakeStore().passages.values())[:1]]
    alone = FakeReader().read(["What is the capital?"], passages, 1)
    got: list[object] = []
    with lock:  # as the batcher's ask holds it
        t = threading.Thread(target=lambda: got.append(reader.read(["What is the capital?"], passages, 1)))
        t.start()
        t.join(0.1)
        assert t.is_alive() and not got  # waiting for the lock, not reading
    t.join(10)
    assert got == [alone]
