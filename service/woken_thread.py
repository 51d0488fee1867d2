"""A thread woken by writes: work done a moment after them, off the writer's path, for every write meanwhile at once.

The SQLite log's checkpoints (``service.sqlite_writers``) follow writes: each write only says so (``wrote``); the
thread, started by the first one, waits ``delay`` for the writes that follow, runs its work once for all of them,
and ends after ``idle`` seconds without a write (the next write starts another). A forked child starts its own: the
parent's thread is not in it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable


class WokenThread:
    """``work`` run on a thread of its own ``delay`` seconds after ``wrote``; it returns whether the thread goes on
    (``False``: the thread ends, and the next write starts another). ``runs``: the runs that went on."""

    def __init__(self, name: str, work: Callable[[], bool], *, delay: float, idle: float) -> None:
        self.name, self.work, self.delay, self.idle = name, work, delay, idle
        self.runs = 0
        self._wrote = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False

    def wrote(self) -> None:
        if self._closed:
            return
        if not self._wrote.is_set():
            self._wrote.set()
        if self._thread is None or self._pid != os.getpid():
            with self._guard:
                if self._thread is None or self._pid != os.getpid():
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._pid = os.getpid()
                    self._thread.start()

    def close(self) -> None:
        """Stop the thread after the run in progress; later writes start none."""
        with self._guard:
            self._closed, thread = True, self._thread
            self._wrote.set()
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(30)

    def _run(self) -> None:
        while True:
            if not self._wrote.wait(self.idle):
                with self._guard:  # a write between the wait and here finds this thread still listed: go on
                    if not self._wrote.is_set():
                        self._thread = None
                        return
            if self._closed:
                return
            time.sleep(self.delay)
            self._wrote.clear()
            if not self.work():
                with self._guard:
                    self._thread = None
                return
            self.runs += 1
