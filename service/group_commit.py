"""Group commit: the rows a served page owes (its receipt, its audit row) inserted for every request waiting
meanwhile in one transaction, by one of them.

A ranking page answers only once its decision receipt and its audit row are committed (PIPL: nothing is served off
the record). Written by each request in a transaction of its own, those small rows (~40 until stop 50's one audit
row a page: ``service.audit``) cost a 100k server half its throughput (measured with four clients: 126 against 255
req/s without them): a statement and a commit each, and SQLite's one writer at a time, whose lock a request held
while it waited for the interpreter's lock behind the rankings of the others. Here a request queues its rows; the
first one that finds no group running leads the next: it takes everything queued, inserts each statement's rows at
once, commits and wakes the others, and whoever queued meanwhile leads the group after. The busier the server, the
larger the groups; a lone request commits its own rows on its own thread, with no handoff (until stop 49 a writer
thread took every group: a lone page waited two thread wake-ups longer).

A failed transaction is tried again one request at a time, so an error reaches only the requests whose rows
caused it, and each still commits all of its rows or none.

On SQLite one connection is kept for every group (another one's page cache is dropped whenever a different connection
wrote, so the indexes' hot leaves would be read again at every group) and inserts each statement's rows as one
multi-row ``VALUES`` (``_MultiRow``): Python's ``sqlite3`` gives the interpreter lock up and takes it back for every
row of an ``executemany``, and behind busy ranking threads each take waits its turn (a microbenchmark, 164 rows
with two threads spinning in Python: 1.45 s by ``executemany``, 0.12 s as multi-row statements, 2.6 ms with no
other thread). SQLAlchemy's per-row parameter work goes with it: the statement is compiled once, and each row's
values pass through the columns' own bind processors into one flat tuple. Served at 100k with four clients, the
writer's CPU went from 1.15–1.32 to 0.70–0.73 ms a request. Those statements and their commit go to the kept
connection's DBAPI connection itself (``_insert_direct``), under the file's writers' lock taken as SQLAlchemy's events
would take it (``service.sqlite_writers.writing``): SQLAlchemy's execution, transaction and event layers were a third
of a lone page's commit (in process on the kept 100k world: 0.64–0.68 → 0.48–0.50 ms for a head and an audit row).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from functools import cache, partial
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine

from service.sqlite_writers import serialized, writing

Part = tuple[sa.Executable, Sequence[dict[str, Any]]]
"""One statement and the rows (its parameter sets) to run it with."""

MAX_ROWS = 5_000
"""Rows in one transaction at most: under a burst, the requests behind a group are not kept waiting for its size."""

VARIABLES = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999
"""Parameters in one SQLite statement at most (``SQLITE_MAX_VARIABLE_NUMBER``'s default, raised in 3.32)."""


class GroupCommit:
    """The group commit of one engine: the first waiting caller inserts for everyone queued (``write``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # an in-memory SQLite database lives in one connection of one thread: another thread would see another one
        self.inline = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
        self.keeps = not self.inline and engine.dialect.name == "sqlite"
        """Whether one connection is kept for every group (a SQLite file: ``_connection``)."""
        self.direct = self.keeps and serialized(engine)
        """Whether groups go to the DBAPI connection directly, under the file's writers' lock (``_insert_direct``)."""
        self.transactions = 0
        """Transactions committed (or tried) so far: requests over transactions is the group size."""
        self._reset()
        os.register_at_fork(after_in_child=partial(_reset_in_child, weakref.ref(self)))

    def _reset(self) -> None:
        """A fresh start (and a forked child's: its copies of the parent's waiting rows, lock and connection are the
        parent's; the child leaves them alone)."""
        self._turn = threading.Condition()
        self._queued: deque[tuple[Sequence[Part], Future[None]]] = deque()
        self._leading = False
        self._conn: Connection | None = None
        """The kept connection: opened at the first group, closed by ``close`` or when a group fails."""

    @property
    def queued(self) -> int:
        """Callers waiting for a group to take their rows."""
        return len(self._queued)

    def write(self, parts: Sequence[Part]) -> None:
        """Insert ``parts`` in this order, in a transaction shared with other threads' rows; return once it has
        committed, or raise what inserting them raised. Every caller must list its statements in one common order
        (a receipt's head before its page's rows): a group runs each statement once, in the order they first appear.

        The caller that finds no group running leads one: it takes everything queued (its own rows first, when
        alone) and inserts it on its own thread, then hands the lead to whoever queued meanwhile. A lone request
        so pays no handoff to another thread and back (two wake-ups of a sleeping thread, ~0.2 ms a request)."""
        if self.inline:
            self._insert([parts])
            return
        done: Future[None] = Future()
        with self._turn:
            self._queued.append((parts, done))
            while not done.done():
                if self._leading:
                    self._turn.wait()
                    continue
                group, rows = [], 0
                while self._queued and rows < MAX_ROWS:
                    group.append(self._queued.popleft())
                    rows += _rows(group[-1][0])
                self._leading = True
                self._turn.release()
                try:
                    self._commit(group)
                finally:
                    self._turn.acquire()
                    self._leading = False
                    self._turn.notify_all()
        done.result()

    def close(self) -> None:
        """Close the kept connection once no group runs (the next ``write`` opens another)."""
        with self._turn:
            while self._leading:
                self._turn.wait()
            self._drop_connection()

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
            done.set_result(None)
        except BaseException as e:
            done.set_exception(e)

    def _insert(self, group: Sequence[Sequence[Part]]) -> None:
        merged: dict[int, tuple[sa.Executable, list[dict[str, Any]]]] = {}
        for parts in group:
            for statement, rows in parts:
                if rows:
                    merged.setdefault(id(statement), (statement, []))[1].extend(rows)
        self.transactions += 1
        with self._connection() as conn:
            if self.direct:
                _insert_direct(conn, merged.values())
                return
            with conn.begin():
                for statement, rows in merged.values():
                    _execute(conn, statement, rows)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """The kept connection (``keeps``), else a pooled one for this group."""
        if not self.keeps:
            with self.engine.connect() as conn:
                yield conn
            return
        if self._conn is None:
            self._conn = self.engine.connect()
        try:
            yield self._conn
        except BaseException:
            self._drop_connection()  # whatever the failure left it in, the next group starts on a fresh one
            raise

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _reset_in_child(ref: weakref.ref[GroupCommit]) -> None:
    if (group := ref()) is not None:
        group._reset()


def _insert_direct(conn: Connection, merged: Iterable[tuple[sa.Executable, list[dict[str, Any]]]]) -> None:
    """A group's multi-row inserts and commit on ``conn``'s DBAPI connection, holding the file's writers' lock as a
    write through SQLAlchemy would (``service.sqlite_writers``); an error is SQLAlchemy's (``IntegrityError``…)."""
    dbapi = conn.connection.dbapi_connection
    sql = ""
    with writing(conn.engine):
        try:
            for statement, rows in merged:
                for sql, params in _multi_row(statement, conn.dialect, frozenset(rows[0])).batches(rows):
                    dbapi.execute(sql, params)
            dbapi.commit()
        except BaseException as e:
            dbapi.rollback()
            if isinstance(e, sqlite3.Error):
                raise sa.exc.DBAPIError.instance(sql, None, e, sqlite3.Error, hide_parameters=True,
                                                 dialect=conn.dialect) from e  # fmt: skip
            raise


def _execute(conn: Connection, statement: sa.Executable, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name != "sqlite":
        conn.execute(statement, rows)
        return
    insert = _multi_row(statement, conn.dialect, frozenset(rows[0]))
    for sql, params in insert.batches(rows):
        conn.exec_driver_sql(sql, params)


class _MultiRow:
    """An insert compiled once for SQLite with the given columns: ``INSERT … VALUES (?, …), (?, …)…`` for as many
    rows as its parameter limit allows, each value passed through its column's bind processor (SQLAlchemy's own:
    dates as its text, JSON by the engine's serialiser)."""

    def __init__(self, statement: sa.Insert, dialect: Dialect, keys: frozenset[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.keys = tuple(compiled.positiontup or ())
        if set(self.keys) != keys:  # a column default SQLAlchemy would fill in, or a parameter it does not know
            raise TypeError(f"insert into {statement.table} must name every column it sets: {sorted(keys)} "
                            f"against {sorted(self.keys)}")  # fmt: skip
        one = "(" + ", ".join("?" * len(self.keys)) + ")"
        self.head, found, self.tail = str(compiled).partition(one)
        if not found:
            raise TypeError(f"not a single-row insert: {compiled}")
        self.one = one
        columns = statement.table.c
        self.processors: list[tuple[str, Callable[[Any], Any] | None]] = [
            (k, columns[k].type.dialect_impl(dialect).bind_processor(dialect)) for k in self.keys
        ]
        self.per_statement = max(1, VARIABLES // len(self.keys))

    def batches(self, rows: Sequence[dict[str, Any]]) -> list[tuple[str, tuple[Any, ...]]]:
        """Column by column, each distinct value object through its processor once: the rows of one request share
        theirs (a page's audit rows one time and one serialised detail), and a date's processor costs more than
        the lookup."""
        if len(rows) == 1:  # a lone page's head and audit row: no columns to gather
            row = rows[0]
            return [
                (
                    self.head + self.one + self.tail,
                    tuple(row[k] if p is None else p(row[k]) for k, p in self.processors),
                )
            ]
        out = []
        for start in range(0, len(rows), self.per_statement):
            chunk = rows[start : start + self.per_statement]
            columns = []
            for k, p in self.processors:
                values = [r[k] for r in chunk]
                if p is not None:
                    seen: dict[int, Any] = {}
                    values = [seen[i] if (i := id(v)) in seen else seen.setdefault(i, p(v)) for v in values]
                columns.append(values)
            params = tuple(chain.from_iterable(zip(*columns, strict=True)))
            out.append((self.head + ", ".join([self.one] * len(chunk)) + self.tail, params))
        return out


@cache
def _multi_row(statement: sa.Insert, dialect: Dialect, keys: frozenset[str]) -> _MultiRow:
    return _MultiRow(statement, dialect, keys)


def _rows(parts: Sequence[Part]) -> int:
    return sum(len(rows) for _, rows in parts)
