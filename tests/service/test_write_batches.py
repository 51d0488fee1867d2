"""Writes that queue behind a held index lock run as one batch: one drain of the readers and one settle for all of
them, each caller with its own outcome (``service.locking.WriteBatches``)."""

from __future__ import annotations

import threading
import time

import pytest

from service.locking import IndexLock, WriteBatches


def _wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


class Calls:
    def __init__(self) -> None:
        self.settles = 0
        self.after: list[list] = []
        self.order: list[int] = []

    def settle(self) -> None:
        self.settles += 1

    def record(self, changed: list) -> None:
        self.after.append(changed)


def test_writes_waiting_on_a_reader_run_in_one_batch_in_arrival_order() -> None:
    lock = IndexLock()
    batches, calls, outcomes = WriteBatches(lock), Calls(), {}

    def job(i: int):
        def run() -> list:
            calls.order.append(i)
            return [f"change-{i}"]

        return run

    with lock.read():  # a ranking in progress: the first writer waits for it, the others queue behind
        first = threading.Thread(
            target=lambda: outcomes.__setitem__(0, batches.run(job(0), calls.settle, calls.record))
        )
        first.start()
        _wait_for(lambda: batches._running)
        rest = []
        for i in range(1, 5):
            t = threading.Thread(
                target=lambda i=i: outcomes.__setitem__(i, batches.run(job(i), calls.settle, calls.record))
            )
            t.start()
            rest.append(t)
            _wait_for(lambda i=i: len(batches._queue) == i)
        assert calls.order == []  # nothing ran while the reader held the lock
    for t in [first, *rest]:
        t.join(5)
    assert outcomes == {i: [f"change-{i}"] for i in range(5)}
    assert calls.order == [0, 1, 2, 3, 4]
    # the first writer ran alone (it had taken the queue before the others came), the four behind it together
    assert calls.settles == 2
    assert calls.after == [["change-0"], ["change-1", "change-2", "change-3", "change-4"]]


def test_a_failing_write_reaches_only_its_caller() -> None:
    lock = IndexLock()
    batches, calls, outcomes = WriteBatches(lock), Calls(), {}

    def ok(i: int):
        return lambda: [f"change-{i}"]

    def bad() -> list:
        raise ValueError("talent t-2: invalid")

    with lock.read():
        threads = []
        for i, job in enumerate([ok(0), ok(1), bad, ok(3)]):

            def call(i=i, job=job) -> None:
                try:
                    outcomes[i] = batches.run(job, calls.settle, calls.record)
                except ValueError as e:
                    outcomes[i] = e

            threads.append(threading.Thread(target=call))
            threads[-1].start()
            _wait_for(lambda i=i: len(batches._queue) == i if i else batches._running)
    for t in threads:
        t.join(5)
    assert isinstance(outcomes[2], ValueError) and "t-2" in str(outcomes[2])
    assert [outcomes[i] for i in (0, 1, 3)] == [["change-0"], ["change-1"], ["change-3"]]
    assert calls.after == [["change-0"], ["change-1", "change-3"]]  # the failed write has no after-write step


def test_a_failing_after_write_step_reaches_every_caller_of_its_batch() -> None:
    batches = WriteBatches(IndexLock())

    def after(_changed: list) -> None:
        raise RuntimeError("the store is down")

    with pytest.raises(RuntimeError, match="store is down"):
        batches.run(lambda: ["change"], lambda: None, after)
    # the next write is not stuck behind the failed batch
    assert batches.run(lambda: ["next"], lambda: None, lambda _c: None) == ["next"]


def test_writes_hold_readers_out_and_readers_hold_writes_back() -> None:
    lock = IndexLock()
    batches = WriteBatches(lock)
    inside = threading.Event()
    release = threading.Event()

    def slow_job() -> list:
        inside.set()
        release.wait(5)
        return []

    writer = threading.Thread(target=lambda: batches.run(slow_job, lambda: None, lambda _c: None))
    writer.start()
    inside.wait(5)
    entered = threading.Event()

    def reader() -> None:
        with lock.read():
            entered.set()

    r = threading.Thread(target=reader)
    r.start()
    assert not entered.wait(0.1)  # the write holds the lock alone
    release.set()
    writer.join(5)
    assert entered.wait(5)
    r.join(5)
