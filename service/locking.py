"""The index lock: many readers (rankings, searches) or one writer (record writes, erasure, alert matching).

The in-memory indices are append-only arrays and dicts that a writer changes in several steps; a reader that ran
between two of them could see a row in one index and not yet (or no longer) in another, and fail. Readers share the
lock, writers hold it alone, and a waiting writer stops new readers from entering, so a stream of rankings cannot
starve writes. ``with lock:`` is the writer's side (the ``threading.Lock`` it replaces), ``with lock.read():`` the
reader's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class IndexLock:
    """A writer-preferring readers–writer lock; the writer's side is reentrant-free, like ``threading.Lock``."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    def acquire(self) -> None:
        with self._cond:
            self._waiting_writers += 1
            try:
                self._cond.wait_for(lambda: not self._writer and self._readers == 0)
            finally:
                self._waiting_writers -= 1
            self._writer = True

    def release(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and self._waiting_writers == 0)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()


class WriteBatches:
    """Writes that arrive while another is waiting for, or holding, the writer's side of an ``IndexLock`` run together
    in one exclusive section (group commit): readers drain and indices settle once per batch instead of once per
    write, which is what bounds write throughput while rankings hold the readers' side.

    ``run(job)`` queues ``job`` (the store write and index update of one request, returning that request's changes);
    the first caller to find no batch running takes every queued job, runs each under the lock (an exception ends
    only its own job and reaches only its own caller), calls ``settle`` once, releases the lock, hands the batch's
    changes to ``after`` (on the readers' side, outside the exclusive section), and wakes the callers. Each caller
    gets its own job's result, in its own thread; jobs run in arrival order."""

    def __init__(self, lock: IndexLock) -> None:
        self.lock = lock
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Job] = []
        self._running = False

    def run(self, job: Callable[[], list], settle: Callable[[], None], after: Callable[[list], None]) -> list:
        me = _Job(job)
        with self._cond:
            self._queue.append(me)
            self._cond.wait_for(lambda: me.finished or not self._running)
            if not me.finished:
                self._running = True
                batch, self._queue = self._queue, []
        if not me.finished:
            try:
                self._run_batch(batch, settle, after)
            except BaseException as e:  # settling or the after-write step failed: every write of the batch hears it
                for j in batch:
                    j.error = j.error or e
            finally:
                with self._cond:
                    self._running = False
                    for j in batch:
                        j.finished = True
                    self._cond.notify_all()
        if me.error is not None:
            raise me.error
        return me.result

    def _run_batch(self, batch: list[_Job], settle: Callable[[], None], after: Callable[[list], None]) -> None:
        with self.lock:
            try:
                for j in batch:
                    try:
                        j.result = j.job()
                    except BaseException as e:  # re-raised in its caller's thread
                        j.error = e
            finally:
                settle()  # readers, let in once the lock is released, find nothing left to rebuild
        changed = [c for j in batch if j.error is None for c in j.result]
        if changed:
            after(changed)


class _Job:
    __slots__ = ("error", "finished", "job", "result")

    def __init__(self, job: Callable[[], list]) -> None:
        self.job, self.result, self.error, self.finished = job, [], None, False
