"""The audit log: who (key, role) read or changed which record, when. PIPL asks that access to personal data be
accountable, so every read of a full talent profile and every write leaves a row here.

A served ranking page leaves one row naming its decision receipt (``rank`` of object ``ranking``), not one per card:
the receipt already names the talents shown (``db.shown_candidates``), so a talent's access log reads them through
it (``entries``: the page's row once for each talent it showed, as ``rank`` of object ``talent``). Twenty rows a page
were half its rows and ~30 % of its group commit (1.77 → 1.25 ms, stop 50). An erasure writes the talent's rows out
before the receipts lose its id (``keep_shown``), so the log still names whom each page showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service import db
from service.group_commit import Part
from service.keys import Principal
from service.store import Store


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    key_id: int | None
    role: str
    action: str
    object_kind: str
    object_id: str | None
    detail: dict[str, Any] | None


RANK = "rank"
"""A served ranking page's action: its row's object is the receipt (``ranking``), the talents shown its candidates."""


def _table() -> sa.Table:
    return db.AuditRow.__table__  # type: ignore[return-value]


@cache
def _insert() -> sa.Insert:
    """``record``'s statement, built once (a ranking writes it every request)."""
    return sa.insert(_table())


def record(
    store: Store,
    principal: Principal,
    action: str,
    object_kind: str,
    object_ids: Sequence[str | None],
    detail: dict[str, Any] | None = None,
) -> None:
    """One row per object (one statement for all), stamped with the same time, in a transaction of its own."""
    statement, batch = rows(principal, action, object_kind, object_ids, detail)
    if batch:
        with store.engine.begin() as conn:
            conn.execute(statement, batch)


def rows(
    principal: Principal,
    action: str,
    object_kind: str,
    object_ids: Sequence[str | None],
    detail: dict[str, Any] | None = None,
) -> Part:
    """``record``'s rows, to insert with others (a served page's go with its receipt: ``service.group_commit``);
    ``detail`` serialised once for all of them."""
    now = datetime.now(UTC)
    shared = None if detail is None else db.RawJSON(orjson.dumps(detail).decode())
    return _insert(), [
        {
            "at": now,
            "key_id": principal.key_id,
            "role": principal.role.value,
            "action": action,
            "object_kind": object_kind,
            "object_id": object_id,
            "detail": shared,
        }
        for object_id in object_ids
    ]


def page_rows(principal: Principal, ranking_id: str, detail: dict[str, Any]) -> Part:
    """A served page's audit row, naming its receipt ``ranking_id`` (whose candidates are the talents shown)."""
    return rows(principal, RANK, "ranking", [ranking_id], {"ranking_id": ranking_id} | detail)


def _shown(a: sa.Table, talent_id: str | None = None) -> list[sa.Select]:
    """Each served page's row once for each talent its receipt shows, as that talent's (``rank`` of ``talent``),
    with the talent's position there; only ``talent_id``'s when given (the receipts showing them first, by the talent
    indexes: SQLite would otherwise walk every page's row and look its candidates up). One query per shape of the
    shown candidates."""
    r = db.RankingRow.__table__
    pages = (a.c.object_kind == "ranking", a.c.action == RANK)
    row = (a.c.id, a.c.at, a.c.key_id, a.c.role, a.c.action, sa.literal("talent", sa.String).label("object_kind"))
    if talent_id is not None:
        showing = db.select_shown(r, "ranking_id", where=lambda c: c["talent_id"] == talent_id)
        return [sa.select(
            *row, sa.literal(talent_id, sa.String).label("object_id"), a.c.detail, sa.literal(0).label("position")
        ).where(*pages, a.c.object_id.in_(showing))]  # fmt: skip
    return [
        sa.select(*row, cols["talent_id"].label("object_id"), a.c.detail, cols["position"].label("position"))
        .select_from(a.join(src, cols["ranking_id"] == a.c.object_id))
        .where(*pages, cols["talent_id"].is_not(None))
        for src, cols in db.shown_candidates(r)
    ]


def entries(
    store: Store,
    *,
    object_kind: str | None = None,
    object_id: str | None = None,
    key_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Matching rows, newest first, and their total count. A talent's include each page that showed them: one
    stored row a page, read once for each talent, so the entries of one page share its id (and come in the
    order the page showed them). Each part is read newest first off an index (``at``, or ``object_kind`` then
    ``at``), so a page of the log costs milliseconds however long the log; one record's are sorted here."""
    a = _table()
    wanted = ((object_kind, a.c.object_kind), (object_id, a.c.object_id), (key_id, a.c.key_id))
    # a stored row before the entries its page reads as (-1: they share its time and id)
    parts = [sa.select(*a.c, sa.literal(-1).label("position")).where(*(c == v for v, c in wanted if v is not None))]
    if object_kind in (None, "talent"):
        parts += [s if key_id is None else s.where(a.c.key_id == key_id) for s in _shown(a, object_id)]
    with store.engine.connect() as conn:
        if object_id is not None:  # one record's entries, few; SQLite would walk the kind's index in time order
            found = sorted((r for p in parts for r in conn.execute(p)), key=lambda r: (r.at, r.id, -r.position))
            return [AuditEntry(*r[:-1]) for r in found[::-1][offset : offset + limit]], len(found)
        total = sum(conn.scalar(p.with_only_columns(sa.func.count(), maintain_column_froms=True)) or 0 for p in parts)
        page = sa.union_all(*parts) if len(parts) > 1 else parts[0]
        rows = conn.execute(page.order_by(sa.desc("at"), sa.desc("id"), "position").limit(limit).offset(offset)).all()
    return [AuditEntry(*r[:-1]) for r in rows], total


def keep_shown(conn: Connection, talent_id: str) -> int:
    """Write out ``talent_id``'s rows of the pages that showed them, before an erasure takes their id out of the
    receipts (the log keeps naming whom each page showed); returns how many. In the erasure's transaction."""
    a = _table()
    columns = ["at", "key_id", "role", "action", "object_kind", "object_id", "detail"]
    (shown,) = _shown(a, talent_id)
    source = shown.with_only_columns(*(shown.selected_columns[k] for k in columns)).order_by(a.c.id)
    return conn.execute(sa.insert(a).from_select(columns, source)).rowcount
