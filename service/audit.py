"""The audit log: who (key, role) read or changed which record, when. PIPL asks that access to personal data be
accountable, so every read of a full talent profile and every write leaves a row here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa

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


def entries(
    store: Store,
    *,
    object_kind: str | None = None,
    object_id: str | None = None,
    key_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Matching rows, newest first, and their total count."""
    t = _table()
    where = [
        c == v
        for c, v in ((t.c.object_kind, object_kind), (t.c.object_id, object_id), (t.c.key_id, key_id))
        if v is not None
    ]
    with store.engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(t).where(*where)) or 0
        found = conn.execute(sa.select(t).where(*where).order_by(t.c.id.desc()).limit(limit).offset(offset)).all()
    return [AuditEntry(**r._mapping) for r in found], total
