"""Group commit: the rows a served page owes (its receipt, its audit rows) inserted by one thread per store, the rows
of every request waiting meanwhile in one transaction.

A ranking page answers only once its decision receipt and the audit rows of the cards it shows are committed (PIPL:
nothing is served off the record). Written by each request in a transaction of its own, those ~40 small rows cost
a 100k server half its throughput (measured with four clients: 126 against 255 req/s without them): a statement
and a commit each, and SQLite's one writer at a time, whose lock a request held while it waited for the
interpreter's lock behind the rankings of the others. Here a request hands its rows to the store's writer thread
and waits: the thread takes everything queued since its last commit, inserts each statement's rows with one
``executemany``, commits once and wakes them all. While it writes, the next requests' rows queue: the busier the
server, the larger the groups, with no wait added to a lone request.

A failed transaction is tried again one request at a time, so an error reaches only the requests whose rows
caused it, and each still commits all of its rows or none.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

Part = tuple[sa.Executable, Sequence[dict[str, Any]]]
"""One statement and the rows (its parameter sets) to run it with."""

MAX_ROWS = 5_000
"""Rows in one transaction at most: under a burst, the requests behind a group are not kept waiting for its size."""


class GroupCommit:
    """The writer thread of one engine (started at the first write, again in a forked child); ``close`` drains it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # an in-memory SQLite database lives in one connection of one thread: another thread would see another one
        self.inline = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
        self._queue: queue.SimpleQueue[tuple[Sequence[Part], Future[None]] | None] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.transactions = 0
        """Transactions committed (or tried) so far: requests over transactions is the group size."""

    def write(self, parts: Sequence[Part]) -> None:
        """Insert ``parts`` in this order, in a transaction shared with other threads' rows; return once it has
        committed, or raise what inserting them raised. Every caller must list its statements in one common order
        (a receipt's head before its candidates): a group runs each statement once, in the order they first appear."""
        if self.inline:
            self._insert([parts])
            return
        done: Future[None] = Future()
        self._running()
        self._queue.put((parts, done))
        done.result()

    def close(self) -> None:
        """Write what is queued and stop the thread (a later ``write`` starts another)."""
        with self._start:
            thread, self._thread = self._thread, None
            if thread is not None and self._pid == os.getpid():
                self._queue.put(None)
                thread.join()

    def _running(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start:
            if self._thread is None or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()  # a forked child's copy may hold its parent's waiting entries
                self._thread = threading.Thread(target=self._run, name="talentmatch-group-commit", daemon=True)
                self._pid = os.getpid()
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, rows, last = [first], _rows(first[0]), False
            while rows < MAX_ROWS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                    break
                group.append(more)
                rows += _rows(more[0])
            self._commit(group)
            if last:
                return

    def _commit(self, group: list[tuple[Sequence[Part], Future[None]]]) -> None:
        try:
            self._insert([parts for parts, _ in group])
        except BaseException as e:
            if len(group) == 1:
                group[0][1].set_exception(e)
            else:
                for parts, done in group:  # alone, each commits or fails on its own rows
                    self._alone(parts, done)
            return
        for _, done in group:
            done.set_result(None)

    def _alone(self, parts: Sequence[Part], done: Future[None]) -> None:
        try:
            self._insert([parts])
        except BaseException as e:
            done.set_exception(e)
        else:
            done.set_result(None)

    def _insert(self, group: Sequence[Sequence[Part]]) -> None:
        merged: dict[int, tuple[sa.Executable, list[dict[str, Any]]]] = {}
        for parts in group:
            for statement, rows in parts:
                if rows:
                    merged.setdefault(id(statement), (statement, []))[1].extend(rows)
        self.transactions += 1
        with self.engine.begin() as conn:
            for statement, rows in merged.values():
                conn.execute(statement, rows)


def _rows(parts: Sequence[Part]) -> int:
    return sum(len(rows) for _, rows in parts)
