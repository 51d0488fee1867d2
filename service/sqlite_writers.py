"""One SQLite writer at a time per database file, queued on locks (threads in this process, then processes) instead of
SQLite's busy handler.

SQLite lets one connection write at a time. A connection that finds the file locked waits in SQLite's busy handler,
which sleeps 1, 2, 5 … up to 100 ms between tries and wakes blindly: under a server's load (every ranking page
writes its receipt and audit rows, every talent write its versions) threads sleep while the lock sits free and a
late thread can overtake ones that waited longer. Here a writer takes a process-wide lock for its file at its first
write statement and gives it back when its transaction ends, so our own threads hand the file over at once, in
order.

The driver still begins SQLite's transaction implicitly at the first write (so reads before it take no snapshot
that a later write would find stale); the lock is taken just before that statement, and commit and rollback are
carried out in their events, where it is released right after.

Other processes on the same file (``serve --workers N``, a CLI import beside the server) queue too: the holder of the
process lock also takes an exclusive ``flock`` on ``<database>.writers`` (a file beside it), polled every 0.2–2 ms,
instead of meeting SQLite's busy handler, whose sleeps grow to 100 ms. Measured with two API workers under
``bench load``: the busy handler's sleeps held talent writes for seconds.

The write-ahead log is copied back into the database (checkpointed) by a thread of its own (``_Checkpoints``), not by
whichever writer's commit crossed SQLite's 1,000 pages: that writer held the lock, and the request waiting on it,
through the copy and its ``fsync`` (a 100k server's receipts, ~40 rows a page served: 0.8 → 2.1 ms a page, measured).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.woken_thread import WokenThread

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
_LOCKS: dict[str, _WriterLock] = {}
_LOCKS_GUARD = threading.Lock()
_ENGINES: weakref.WeakKeyDictionary[Engine, tuple[_WriterLock, float]] = weakref.WeakKeyDictionary()
"""Each engine's lock and timeout, as ``serialize_writers`` set them (``writing``: resolving the file's path again
costs system calls)."""
CHECKPOINT_SECONDS = 0.25
"""While there are writes, the log is checkpointed this often: each page changed since is copied once, however often
it was written meanwhile (an index's root: every commit)."""
IDLE_SECONDS = 5.0
"""The checkpointing thread ends after this long without a write."""
_HELD = "sqlite_writer_lock"
"""Key in a DBAPI connection's ``info``: the lock it holds while its transaction writes."""


class _FileLock:
    """The writers' lock of one database file across processes: ``flock`` on a file beside it, opened once per
    process (a forked child opens its own: a lock taken through an inherited descriptor would be the parent's)."""

    def __init__(self, path: str) -> None:
        self.path, self._fd, self._pid = f"{path}.writers", -1, 0

    def acquire(self, deadline: float) -> bool:
        if self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


class _Checkpoints(WokenThread):
    """The checkpoints of one file's log in this process: ``PASSIVE`` (writers and readers go on meanwhile, and no page
    a reader still needs is overwritten), from a thread started at a write and ended when writes stop. The copy runs
    in SQLite, without the interpreter's lock: on another core than the requests' Python, when there is one. Each
    run opens a connection of its own and closes it, so the last connection an engine closes is still SQLite's last
    one, which folds the log into the file (a closed store leaves a file complete on its own)."""

    def __init__(self, path: str) -> None:
        super().__init__("talentmatch-checkpoints", self._checkpoint, delay=CHECKPOINT_SECONDS, idle=IDLE_SECONDS)
        self.uri = f"{Path(path).as_uri()}?mode=rw"  # never creates a file that went away
        self._running = threading.Lock()

    def settle(self) -> None:
        """Return once no checkpoint is running (an engine disposed: its file is then complete without the log)."""
        with self._running:
            pass

    def _checkpoint(self) -> bool:
        with self._running:
            try:
                with closing(sqlite3.connect(self.uri, uri=True, isolation_level=None)) as conn:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # the file went away (a test's temporary directory): a write starts another
                return False
        return True


class _WriterLock:
    """This process's lock for one file (threads queue on it), then the file lock (processes queue on that); a
    release tells the file's checkpoints that there was a write."""

    def __init__(self, path: str) -> None:
        self._threads, self._file = threading.Lock(), _FileLock(path)
        self.checkpoints = _Checkpoints(path)

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            return False
        held = False
        try:
            held = self._file.acquire(deadline)
        finally:
            if not held:
                self._threads.release()
        return held

    def release(self) -> None:
        try:
            self._file.release()
        finally:
            self._threads.release()
            self.checkpoints.wrote()


def serialize_writers(engine: Engine, path: str, timeout: float = 5.0) -> None:
    """Queue ``engine``'s writers to the SQLite file at ``path`` on one lock shared by every engine on that file
    in this process and, through it, with the writers of other processes; its log checkpointed apart.

    A writer that waits longer than ``timeout`` seconds gets ``database is locked``, as SQLite's own busy timeout
    would give it."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(path, _WriterLock(path))
        _ENGINES[engine] = lock, timeout

    def before_execute(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        info = conn.connection.info
        if _HELD not in info and _WRITE.match(statement):
            if not lock.acquire(timeout):
                raise sqlite3.OperationalError("database is locked")
            info[_HELD] = lock

    def end(conn: Connection, finish: str) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        try:
            getattr(dbapi_connection, finish)()
        finally:
            release(conn.connection.info)

    def release(info: dict) -> None:
        held = info.pop(_HELD, None)
        if held is not None:
            held.release()

    def no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")  # ``_Checkpoints`` does it

    sa.event.listen(engine, "connect", no_autocheckpoint)
    sa.event.listen(engine, "engine_disposed", lambda _engine: lock.checkpoints.settle())
    sa.event.listen(engine, "before_cursor_execute", before_execute)
    sa.event.listen(engine, "commit", lambda conn: end(conn, "commit"))
    sa.event.listen(engine, "rollback", lambda conn: end(conn, "rollback"))

    # a connection handed back with its transaction open, invalidated or closed frees the lock too
    def on_reset(dbapi_connection: Any, record: Any, _reset_state: Any) -> None:
        if _HELD in record.info:
            try:
                dbapi_connection.rollback()
            finally:
                release(record.info)

    sa.event.listen(engine.pool, "reset", on_reset)
    for name in ("invalidate", "soft_invalidate"):
        sa.event.listen(engine.pool, name, lambda _dbapi, record, _exception: release(record.info))
    for name in ("close", "detach"):
        sa.event.listen(engine.pool, name, lambda _dbapi, record: release(record.info))


def serialized(engine: Engine) -> bool:
    """Whether ``serialize_writers`` queues ``engine``'s writers (``writing`` holds their lock)."""
    return engine in _ENGINES


@contextmanager
def writing(engine: Engine) -> Iterator[None]:
    """Hold the writers' lock of ``engine``'s file (``serialize_writers``) meanwhile: for a writer that drives the
    DBAPI connection itself (``service.group_commit``), whose statements SQLAlchemy's events do not see."""
    lock, timeout = _ENGINES[engine]
    if not lock.acquire(timeout):
        raise sqlite3.OperationalError("database is locked")
    try:
        yield
    finally:
        lock.release()


def truncate_log(engine: Engine, timeout: float = 5.0) -> bool:
    """Checkpoint ``engine``'s whole write-ahead log into its file and truncate it (an erasure: the log still holds
    the deleted rows' old pages). SQLite answers busy, leaving the log as it was, while another checkpoint runs or a
    reader holds an older snapshot: this process's own checkpoints wait meanwhile, and the call is tried again until
    ``timeout``. Returns whether the log was emptied (always off SQLite; an in-memory database has none to empty)."""
    if engine.dialect.name != "sqlite":
        return True
    database = engine.url.database
    lock = _LOCKS.get(str(Path(database).resolve())) if database else None  # the file's, as ``serialize_writers``
    deadline = time.monotonic() + timeout
    with lock.checkpoints._running if lock is not None else nullcontext(), engine.connect() as conn:
        while True:
            busy, *_ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if not busy:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
