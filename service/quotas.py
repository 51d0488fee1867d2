"""Per-enterprise daily quotas (new needs, ranking requests), counted in the database so every API replica shares
them, and atomic: a unit is taken by one conditional ``UPDATE … SET used = used + 1 WHERE used < limit``, which
exactly one of two concurrent requests wins for the last unit (a write lock on SQLite, a row lock re-checked on
PostgreSQL). Days are the office's (``alerts_timezone``); a day's row is created on first use, older rows of that
enterprise and kind are dropped then.

Quotas bound how fast one tenant can probe the talent pool through rankings; the office's own
roles are never counted.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from service import db
from service.settings import Settings
from service.store import Store


class Quota(StrEnum):
    needs = "needs"
    rankings = "rankings"


SETTING = {Quota.needs: "enterprise_daily_needs", Quota.rankings: "enterprise_daily_rankings"}
WHAT = {Quota.needs: "new needs", Quota.rankings: "ranking requests"}


class QuotaExceeded(Exception):
    """The enterprise used its quota for today; ``retry_after`` is the seconds until the office's next midnight."""

    def __init__(self, enterprise_id: str, quota: Quota, limit: int, resets_at: datetime, now: datetime) -> None:
        self.retry_after = max(1, math.ceil((resets_at - now).total_seconds()))
        env = "TALENTMATCH_" + SETTING[quota].upper()
        super().__init__(
            f"enterprise {enterprise_id!r} has used its {limit} {WHAT[quota]} for today; the quota resets at "
            f"{resets_at.isoformat()} (in {self.retry_after} s); the talent office sets it ({env})"
        )


def _table() -> sa.Table:
    return db.QuotaUsageRow.__table__  # type: ignore[return-value]


def today(settings: Settings, now: datetime) -> tuple[date, datetime]:
    """The office's current day and the UTC instant it ends."""
    tz = ZoneInfo(settings.alerts_timezone)
    local = now.astimezone(tz)
    end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tz)
    return local.date(), end.astimezone(UTC)


def take(store: Store, settings: Settings, enterprise_id: str, quota: Quota, *, now: datetime | None = None) -> None:
    """Take one unit of today's quota, or raise ``QuotaExceeded`` (nothing taken)."""
    now = now or datetime.now(UTC)
    limit = getattr(settings, SETTING[quota])
    day, resets_at = today(settings, now)
    t = _table()
    key = (t.c.enterprise_id == enterprise_id) & (t.c.kind == quota.value)
    with store.engine.begin() as conn:
        insert = sqlite.insert(t) if conn.dialect.name == "sqlite" else postgresql.insert(t)
        new_day = conn.execute(
            insert.values(enterprise_id=enterprise_id, kind=quota.value, day=day, used=0).on_conflict_do_nothing()
        ).rowcount
        if new_day:
            conn.execute(sa.delete(t).where(key, t.c.day < day))
        won = conn.execute(sa.update(t).where(key, t.c.day == day, t.c.used < limit).values(used=t.c.used + 1))
        if won.rowcount != 1:
            raise QuotaExceeded(enterprise_id, quota, limit, resets_at, now)


def give_back(store: Store, settings: Settings, enterprise_id: str, quota: Quota, *, now: datetime | None = None
              ) -> None:  # fmt: skip
    """Return a unit taken today for a request that then wrote nothing."""
    day, _ = today(settings, now or datetime.now(UTC))
    t = _table()
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.enterprise_id == enterprise_id, t.c.kind == quota.value, t.c.day == day, t.c.used > 0)
            .values(used=t.c.used - 1)
        )
