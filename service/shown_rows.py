"""A receipt's shown candidates: committed with a lone page as a list in its head, written out as candidate rows
behind the answer.

A served page answers once its receipt and audit row are committed (``service.group_commit``), and whom it showed
is part of that commit: nothing is shown off the record. As one row per candidate, that cost a lone page more than
the rest of its commit: twenty rows bound and inserted, each with an entry in ``ix_ranking_candidates_talent_id`` on
a random page of an index that only grows (~20 µs a row on a copy of a 100k store with 1.2M candidate rows). A page
that finds the group commit idle so commits the list in its receipt's head (``rankings.shown``, pending while not
null), and the store's thread (``Behind``) writes it out a moment later, ``BEHIND_HEADS`` heads a transaction of
the group commit, by the database's own ``INSERT … SELECT`` over the list's elements, while the next request is
being ranked. A page that finds others committing writes its rows in their group at once, as before: under load
the rows cost the same wherever they go, and a write-out would only hold the write lock longer.

Every reader of candidate rows calls ``settle`` first, so none sees a page without its rows, after a crash
included (the lists are durable: the next reader or lone page writes them out). An erasure writes them out in its
own transaction, under the lock that keeps pages from committing meanwhile, before it redacts
(``service.receipts.redact_talent``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service import db
from service.woken_thread import WokenThread

log = logging.getLogger(__name__)

DELAY_SECONDS = 0.01
"""After a lone page, its rows are written out about this much later, with those of the pages served meanwhile."""
IDLE_SECONDS = 5.0
"""``Behind``'s thread ends after this long without a page."""
BEHIND_HEADS = 4
"""Heads written out by one transaction of the group commit: a page waiting for it waits ~1–2 ms at most."""
CHUNK = 500
"""Heads expanded by one statement at most (~10,000 candidate rows)."""


def pack(shown: Sequence[Any]) -> db.RawJSON:
    """A page's shown rows (``service.ranking.PageRow``) as a head's pending list: ``[position, talent id, score,
    page id, team]`` each, in the order shown."""
    return db.RawJSON(orjson.dumps([[r.position, r.talent_id, float(r.score), r.page_id, r.team] for r in shown])
                      .decode())  # fmt: skip


_PICK = "SELECT id, shown FROM rankings WHERE shown IS NOT NULL ORDER BY id LIMIT {n}"
"""The oldest pending heads (ids are UUIDv7s, time first), off the partial index ``ix_rankings_pending``."""
_ROWS = ("INSERT INTO ranking_candidates (ranking_id, position, talent_id, score, page_id, erased_at, team) "
         "SELECT p.id, {int}, {text}, {float}, {page}, NULL, {team} FROM {picked} AS p, {unnest}(p.shown) AS e "
         "WHERE true ON CONFLICT (ranking_id, position) DO NOTHING")  # fmt: skip
"""Their candidate rows, each list's elements unnested by the database."""
SQLITE = (
    _ROWS.format(int="json_extract(e.value, '$[0]')", text="json_extract(e.value, '$[1]')",
                 float="json_extract(e.value, '$[2]')", page="json_extract(e.value, '$[3]')",
                 team="json_extract(e.value, '$[4]')", picked=f"({_PICK.format(n='?')})", unnest="json_each"),
    f"UPDATE rankings SET shown = NULL WHERE id IN (SELECT id FROM ({_PICK.format(n='?')}))",
)  # fmt: skip
"""On SQLite, two statements under the write lock the first one takes: the same heads for both."""
POSTGRESQL = (
    "WITH picked AS ({pick} FOR UPDATE{skip}), expanded AS ("
    + _ROWS.format(int="(e.value ->> 0)::integer", text="e.value ->> 1", float="(e.value ->> 2)::float8",
                   page="e.value ->> 3", team="e.value ->> 4", picked="picked", unnest="jsonb_array_elements")
    + ") UPDATE rankings SET shown = NULL FROM picked WHERE rankings.id = picked.id"
)  # fmt: skip
"""On PostgreSQL, one statement: the heads locked, their rows inserted and the heads marked, on one snapshot."""


def write_out(conn: Connection, *, most: int | None = None, skip_locked: bool = False) -> int:
    """Expand every pending head (the oldest ``most``, if given) into its candidate rows and mark it written, in
    ``conn``'s transaction; returns how many heads. Plain SQL run by the driver: SQLAlchemy's statement objects
    cost several times the database's work here (0.3 ms a statement against 10 µs for the heads' read). The heads
    are locked first on PostgreSQL (another process writing the same ones out waits, then finds them done;
    ``skip_locked``: leaves them to it, as a group commit does, not an erasure); on SQLite the first statement
    takes the write lock."""
    chunk = CHUNK if most is None else min(CHUNK, most)
    written = 0
    while True:
        if conn.dialect.name == "postgresql":
            sql = POSTGRESQL.format(pick=_PICK.format(n="%(n)s"), skip=" SKIP LOCKED" if skip_locked else "")
            n = conn.exec_driver_sql(sql, {"n": chunk}).rowcount
        else:
            rows, marked = SQLITE
            conn.exec_driver_sql(rows, (chunk,))
            n = conn.exec_driver_sql(marked, (chunk,)).rowcount
        written += n
        if n == 0 or most is not None:  # not ``n < chunk``: heads another transaction held may have been skipped
            return written


def pending(conn: Connection) -> bool:
    """Whether a head waits for its rows (one read of a partial index: nothing when none does)."""
    return conn.exec_driver_sql("SELECT 1 FROM rankings WHERE shown IS NOT NULL LIMIT 1").first() is not None


def settle(store: Any) -> None:
    """Write out every pending head now, ``BEHIND_HEADS`` a transaction of the store's group commit (on the
    connection it keeps, between the pages committing): a reader of candidate rows calls this first (one indexed
    read when nothing is pending; and a read between two write-outs, which may have found some heads held by
    another process's and waited for them)."""
    with store.engine.connect() as conn:
        while pending(conn):
            store.group_commit.write([], after=_STEP)


_STEP = partial(write_out, most=BEHIND_HEADS)
_BEHIND = partial(write_out, most=BEHIND_HEADS, skip_locked=True)


class Behind(WokenThread):
    """The store's writer of the lone pages' lists: ``wrote`` after such a page wakes a thread that, after
    ``DELAY_SECONDS``, writes out every pending list through the group commit, ``BEHIND_HEADS`` at a time (a page
    waiting meanwhile commits between two of them), and ends after ``IDLE_SECONDS`` without pages. A failure is
    logged and tried again at the next page; the lists wait in their heads meanwhile, and readers write them out
    themselves. An in-memory SQLite database (one connection, one thread) is left to its readers."""

    def __init__(self, store: Any) -> None:
        super().__init__("talentmatch-receipt-rows", self._write_out, delay=DELAY_SECONDS, idle=IDLE_SECONDS)
        self.store = store
        engine = store.engine
        if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
            self.close()  # one connection, one thread: its readers write the lists out

    def _write_out(self) -> bool:
        try:  # a page waiting meanwhile commits between two transactions; another process's are its own
            while self.store.group_commit.write([], after=_BEHIND) == BEHIND_HEADS:
                pass
        except sa.exc.SQLAlchemyError as e:  # the next page tries again; readers settle for themselves
            log.warning("writing out receipt candidate rows failed (tried again at the next page): %s", e)
        return True
