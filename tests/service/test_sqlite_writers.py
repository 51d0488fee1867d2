"""Writers to one SQLite file queue on a lock in this process: the next writer goes as soon as the last one ends
(commit, rollback, an error, or a connection handed back mid-transaction), not when SQLite's busy handler next
wakes, and the lock is never left held."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.db import make_engine
from service.sqlite_writers import truncate_log

HOLD = 0.23
"""How long the first writer keeps its transaction open. SQLite's own busy handler would try again at 228 ms, find
the file still locked and sleep until 328 ms: ~100 ms late."""

LATE = 0.09
"""The bound on a waiting writer's delay: under the busy handler's ~100 ms, and loose enough for a scheduler on two
busy cores. The waiting writers also run with SQLite's busy timeout at 0, so one that met SQLite's lock at all
(rather than queueing on ours until it was free) fails at once: that part does not depend on timing."""


def without_busy_handler(conn) -> None:
    conn.exec_driver_sql("PRAGMA busy_timeout = 0")


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    yield engine
    engine.dispose()


def rows(engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT who FROM t ORDER BY id")]


def second_writer_after(engine, first_ends) -> float:
    """Seconds between the first writer's transaction ending (by ``first_ends(conn)``) and a second writer's
    commit, the second having asked while the first held the file."""
    started, ended, done = threading.Event(), [0.0], [0.0]

    def first() -> None:
        conn = engine.connect()
        conn.exec_driver_sql("INSERT INTO t (who) VALUES ('first')")
        started.set()
        time.sleep(HOLD)
        first_ends(conn)
        ended[0] = time.perf_counter()

    def second() -> None:
        started.wait()
        with engine.begin() as conn:
            without_busy_handler(conn)
            conn.exec_driver_sql("INSERT INTO t (who) VALUES ('second')")
        done[0] = time.perf_counter()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    [t.start() for t in threads]
    [t.join(10) for t in threads]
    return done[0] - ended[0]


def commit(conn) -> None:
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("first_ends", "kept"),
    [
        (commit, ["first", "second"]),
        (lambda c: (c.rollback(), c.close()), ["second"]),
        (lambda c: c.close(), ["second"]),
    ],
    ids=["commit", "rollback", "handed back mid-transaction"],
)
def test_the_next_writer_goes_when_the_last_one_ends(engine, first_ends, kept):
    late = second_writer_after(engine, first_ends)
    assert late < LATE, f"the second writer committed {late * 1e3:.0f} ms after the first ended"
    assert rows(engine) == kept


def test_a_failed_statement_and_its_rollback_leave_the_lock_free(engine):
    with pytest.raises(sa.exc.OperationalError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (who) VALUES ('kept out')")
        conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (who) VALUES ('after')")
    assert time.perf_counter() - t0 < 1.0 and rows(engine) == ["after"]


def test_readers_do_not_queue_behind_a_writer(engine):
    with engine.connect() as writer:
        writer.exec_driver_sql("INSERT INTO t (who) VALUES ('pending')")
        t0 = time.perf_counter()
        assert rows(engine) == []  # WAL: a reader sees the last commit at once
        assert time.perf_counter() - t0 < 1.0
        writer.commit()
    assert rows(engine) == ["pending"]


def test_many_threads_writing_at_once_all_commit(engine):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                with engine.begin() as conn:
                    conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
                    conn.exec_driver_sql(f"INSERT INTO t (who) VALUES ('{n}-{i}')")
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert errors == [] and len(rows(engine)) == 200


OTHER_PROCESS = """
import sys, time
from service.db import make_engine
engine = make_engine(sys.argv[1])
with engine.connect() as conn:
    conn.exec_driver_sql("INSERT INTO t (who) VALUES ('other process')")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.commit()
    print(time.time(), flush=True)
"""


def test_a_writer_in_another_process_goes_when_the_last_one_ends(tmp_path, engine):
    """Two processes on one file (``serve --workers``): the second queues on the file lock beside the database and
    commits right after the first, where SQLite's busy handler would sleep until its next try (up to 100 ms late)."""
    url = str(engine.url)
    other = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, url, str(HOLD)], stdout=subprocess.PIPE, text=True,
                             env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])})  # fmt: skip
    assert other.stdout.readline().strip() == "holding"
    with engine.begin() as conn:
        without_busy_handler(conn)
        conn.exec_driver_sql("INSERT INTO t (who) VALUES ('this process')")
    committed = time.time()
    other_ended = float(other.stdout.readline())
    assert other.wait(10) == 0
    late = committed - other_ended
    assert late < LATE, f"this process committed {late * 1e3:.0f} ms after the other one ended"
    assert rows(engine) == ["other process", "this process"]
    lock_file = Path(engine.url.database + ".writers")
    assert lock_file.exists() and lock_file.stat().st_mode & 0o777 == 0o600


def test_the_log_is_checkpointed_by_a_thread_of_its_own(tmp_path, engine, monkeypatch):
    """No writer checkpoints (SQLite's automatic checkpoint is off on every connection); the file's checkpoint
    thread copies the log back a moment after writes, so the database file alone then holds them, and ends once
    writes stop (a later write starts it again). A disposed engine leaves the file complete on its own: the
    checkpoints hold no connection between runs, so the engine's last one still folds the log in."""
    from service import sqlite_writers

    monkeypatch.setattr(sqlite_writers, "IDLE_SECONDS", 0.3)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    checkpoints = sqlite_writers._LOCKS[str((tmp_path / "w.db").resolve())].checkpoints
    for who in ("a", "b"):
        with engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO t (who) VALUES ('{who}')")

    def file_alone() -> list[str]:
        """The rows of a copy of the database file without its log (none while the table is only in the log)."""
        copy = tmp_path / "copy.db"
        copy.write_bytes((tmp_path / "w.db").read_bytes())
        with sa.create_engine(f"sqlite:///{copy}").connect() as c:
            try:
                return [r[0] for r in c.exec_driver_sql("SELECT who FROM t ORDER BY id")]
            except sa.exc.OperationalError:
                return []

    deadline = time.monotonic() + 10
    while file_alone() != ["a", "b"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert file_alone() == ["a", "b"] and checkpoints.runs >= 1
    while checkpoints._thread is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpoints._thread is None  # idle: ended
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (who) VALUES ('c')")
    while file_alone() != ["a", "b", "c"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert file_alone() == ["a", "b", "c"]
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (who) VALUES ('d')")
    engine.dispose()
    assert file_alone() == ["a", "b", "c", "d"]


def test_the_log_is_truncated_once_a_reader_on_an_older_snapshot_lets_go(tmp_path, engine):
    # an erasure truncates the log (its old pages hold the deleted rows); SQLite answers busy while a reader holds an
    # older snapshot (or another checkpoint runs), and one try would leave those pages in the log. SQLite's own busy
    # handler is off here, so only truncate_log's tries wait for the reader
    eraser = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    sa.event.listen(eraser, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout = 0"))
    wal = tmp_path / "w.db-wal"
    reader = engine.connect()
    reader.exec_driver_sql("BEGIN")
    reader.exec_driver_sql("SELECT count(*) FROM t").all()  # a snapshot taken before the next write
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (who) VALUES ('secret')")
    assert b"secret" in wal.read_bytes()
    assert truncate_log(eraser, timeout=0.1) is False  # busy throughout: the log left as it was
    assert b"secret" in wal.read_bytes()
    threading.Timer(0.2, reader.close).start()
    started = time.monotonic()
    assert truncate_log(eraser, timeout=5) is True
    assert 0.1 < time.monotonic() - started < 4
    assert wal.stat().st_size == 0 and rows(engine) == ["secret"]
    eraser.dispose()
