"""The index lock: many readers (rankings, searches) or one writer (record writes, erasure, alert matching).

The in-memory indices are append-only arrays and dicts that a writer changes in several steps; a reader that ran
between two of them could see a row in one index and not yet (or no longer) in another, and fail. Readers share the
lock, writers hold it alone, and a waiting writer stops new readers from entering, so a stream of rankings cannot
starve writes. ``with lock:`` is the writer's side (the ``threading.Lock`` it replaces), ``with lock.read():`` the
reader's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
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
