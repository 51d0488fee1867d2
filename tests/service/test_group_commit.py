"""Group commit (``service.group_commit``): rows handed over by many threads land in few transactions, each caller
returns only once its rows are committed, a bad caller's rows fail alone, and every caller's rows commit whole."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service import group_commit
from service.db import RawJSON, make_engine
from service.group_commit import GroupCommit

meta = sa.MetaData()
heads = sa.Table("heads", meta, sa.Column("id", sa.String, primary_key=True))
lines = sa.Table(
    "lines",
    meta,
    sa.Column("head", sa.ForeignKey("heads.id"), primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
)
HEAD, LINE = sa.insert(heads), sa.insert(lines)


def receipt(name: str, n: int = 3) -> list:
    """One caller's rows: a head, then lines that need it (the foreign key checks the order)."""
    return [(HEAD, [{"id": name}]), (LINE, [{"head": name, "n": i} for i in range(n)])]


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    meta.create_all(engine)
    yield engine
    engine.dispose()


def stored(engine) -> tuple[set[str], int]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(heads.c.id))), conn.scalar(sa.select(sa.func.count()).select_from(lines))


def held_while_queued(engine, group: GroupCommit, names: list[str], *, first: list | None = None) -> dict:
    """Write ``names`` from one thread each while another connection holds the file, so they queue behind the
    first group (``first``, written before them, whose caller leads it); release once all are queued. Returns each
    name's outcome (``None`` or the exception)."""
    outcome: dict = {}

    def write(name: str, parts: list) -> None:
        try:
            group.write(parts)
            outcome[name] = None
        except Exception as e:
            outcome[name] = e

    blocker = engine.connect()
    blocker.exec_driver_sql("INSERT INTO heads (id) VALUES ('blocker')")  # the file's writer lock, held
    threads = [threading.Thread(target=write, args=("first", first or receipt("first")))]
    threads[0].start()
    deadline = time.monotonic() + 10
    while group.transactions < 1 and time.monotonic() < deadline:  # the first group runs
        time.sleep(0.005)
    threads += [threading.Thread(target=write, args=(n, receipt(n) if n != "dup" else receipt("first"))) for n in names]
    for t in threads[1:]:
        t.start()
    while group.queued < len(names) and time.monotonic() < deadline:
        time.sleep(0.005)
    blocker.commit()
    blocker.close()
    for t in threads:
        t.join(10)
    return outcome


def test_callers_waiting_together_share_one_transaction(engine):
    group = GroupCommit(engine)
    names = [f"r{i}" for i in range(6)]
    outcome = held_while_queued(engine, group, names)
    assert outcome == dict.fromkeys(["first", *names])
    assert group.transactions == 2  # the first caller's, then the six queued meanwhile at once
    assert stored(engine) == ({"blocker", "first", *names}, 3 * 7)
    group.close()


def test_a_bad_caller_fails_alone_and_the_others_commit_whole(engine):
    group = GroupCommit(engine)
    # "dup" writes the head "first" again: its group fails, then each caller is tried alone
    outcome = held_while_queued(engine, group, ["a", "dup", "b"])
    assert outcome["first"] is None and outcome["a"] is None and outcome["b"] is None
    assert isinstance(outcome["dup"], sa.exc.IntegrityError)
    assert stored(engine) == ({"blocker", "first", "a", "b"}, 3 * 3)  # nothing of "dup"'s lines either
    group.close()


def test_a_lone_caller_gets_its_own_error(engine):
    group = GroupCommit(engine)
    with pytest.raises(sa.exc.IntegrityError) as raised:  # lines of a head that does not exist
        group.write([(LINE, [{"head": "nobody", "n": 0}])])
    assert "nobody" not in str(raised.value)  # no parameter in the error's text (personal data)
    group.write(receipt("after"))  # the next group goes on
    assert stored(engine) == ({"after"}, 3)
    group.close()


def test_close_drops_the_kept_connection_and_a_later_write_opens_another(engine):
    group = GroupCommit(engine)
    group.write(receipt("one"))
    assert group._conn is not None
    group.close()
    assert group._conn is None
    group.write(receipt("two"))
    assert stored(engine) == ({"one", "two"}, 6)
    group.close()


def test_a_lone_caller_commits_its_own_rows_on_its_own_thread(engine, monkeypatch):
    # no handoff to another thread and back: the caller that finds no group running leads one
    committed_on: list[int] = []
    writing = group_commit.writing

    def recorded(engine):
        committed_on.append(threading.get_ident())
        return writing(engine)

    monkeypatch.setattr(group_commit, "writing", recorded)
    group = GroupCommit(engine)
    assert group.direct  # a SQLite file: the DBAPI connection, under the writers' lock
    group.write(receipt("one"))
    group.write(receipt("two"))
    assert committed_on == [threading.get_ident()] * 2 and group.transactions == 2
    assert stored(engine) == ({"one", "two"}, 6)
    group.close()


def test_a_forked_child_starts_afresh_and_leaves_its_parents_connection_alone(engine):
    group = GroupCommit(engine)
    group.write(receipt("parent"))
    parents = group._conn
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_write_in_child, args=(group, parents))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    group.write(receipt("parent again"))  # the parent's connection still works
    assert group._conn is parents
    assert stored(engine) == ({"parent", "child", "parent again"}, 9)
    group.close()


def _write_in_child(group: GroupCommit, parents) -> None:
    assert group._conn is None and group.queued == 0 and not group._leading
    group.write(receipt("child"))
    assert group._conn is not None and group._conn is not parents
    group.close()


def test_an_in_memory_database_is_written_in_the_callers_thread():
    engine = make_engine("sqlite://")
    meta.create_all(engine)
    group = GroupCommit(engine)
    assert group.inline
    group.write(receipt("m"))
    assert group._conn is None and stored(engine) == ({"m"}, 3)
    engine.dispose()


def typed_columns() -> list[sa.Column]:
    return [sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime(timezone=True)),
            sa.Column("flag", sa.Boolean), sa.Column("score", sa.Float), sa.Column("name", sa.String(32)),
            sa.Column("detail", sa.JSON)]  # fmt: skip


typed, twin = sa.Table("typed", meta, *typed_columns()), sa.Table("typed_twin", meta, *typed_columns())


def typed_rows(n: int) -> list[dict]:
    at = datetime(2026, 12, 7, 8, 30, 15, 123456, tzinfo=UTC)
    return [{"id": i, "at": at + timedelta(seconds=i) if i % 5 else None, "flag": i % 2 == 0, "score": i / 7,
             "name": None if i % 3 else f"名字 {i}", "detail": RawJSON('{"a":1}') if i % 4 else {"k": [i, "é"]}}
            for i in range(n)]  # fmt: skip


@pytest.mark.parametrize("n", [1, 30])  # one row (a lone page's head) is bound on a path of its own
def test_multi_row_inserts_store_what_sqlalchemy_would(engine, monkeypatch, n):
    # SQLite's rows go in as multi-row VALUES through the columns' bind processors; a small parameter limit splits
    # them over several statements
    monkeypatch.setattr("service.group_commit.VARIABLES", 6 * 7)
    rows = typed_rows(n)
    group = GroupCommit(engine)
    group.write([(sa.insert(typed), rows)])
    group.close()
    with engine.begin() as conn:
        conn.execute(sa.insert(twin), rows)
    with engine.connect() as conn:
        ours = conn.exec_driver_sql("SELECT * FROM typed ORDER BY id").all()
        theirs = conn.exec_driver_sql("SELECT * FROM typed_twin ORDER BY id").all()
    assert len(ours) == n and ours == theirs


def test_an_insert_missing_a_defaulted_column_is_refused():
    # SQLAlchemy fills a Python-side default in; a raw multi-row insert would not, so it must name the column
    table = sa.Table("defaulted", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("kind", sa.String(8), default="x"))  # fmt: skip
    engine = make_engine("sqlite://")
    table.metadata.create_all(engine)
    group = GroupCommit(engine)
    with pytest.raises(TypeError, match="must name every column"):
        group.write([(sa.insert(table), [{"id": 1}])])
    group.write([(sa.insert(table), [{"id": 2, "kind": "y"}])])
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, kind FROM defaulted").all() == [(2, "y")]
    engine.dispose()
