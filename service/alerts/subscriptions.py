"""Subscriptions in the database: what an enterprise wants to hear about, and through which channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa

from service import db
from service.alerts.sealing import seal
from service.settings import Settings
from service.store import Store


class Channel(StrEnum):
    webhook = "webhook"
    email = "email"
    inbox = "inbox"


class Delivery(StrEnum):
    immediate = "immediate"
    digest = "digest"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    enterprise_id: str
    need_id: str | None
    channel: Channel
    url: str | None
    secret: str | None
    email: str | None
    top_n: int | None
    min_score: float | None
    delivery: Delivery
    created_at: datetime
    active: bool
    pending: bool = False  # an e-mail subscription whose address is not confirmed yet (inactive until it is)

    def covers(self, need_id: str, enterprise_id: str | None) -> bool:
        """Whether this subscription is about that need."""
        return self.need_id == need_id if self.need_id else enterprise_id == self.enterprise_id


def _table() -> sa.Table:
    return db.SubscriptionRow.__table__  # type: ignore[return-value]


def _from_row(r) -> Subscription:
    created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
    return Subscription(r.id, r.enterprise_id, r.need_id, Channel(r.channel), r.url, r.secret, r.email, r.top_n,
                        r.min_score, Delivery(r.delivery), created, r.active, r.verify_hash is not None)  # fmt: skip


def create(store: Store, *, enterprise_id: str, need_id: str | None, channel: Channel, url: str | None = None,
           secret: str | None = None, email: str | None = None, top_n: int | None = None,
           min_score: float | None = None, delivery: Delivery = Delivery.immediate,
           settings: Settings | None = None, verify_hash: str | None = None) -> Subscription:  # fmt: skip
    """Store a new subscription (the caller validated it) and return it: active, or with ``verify_hash`` pending
    until ``confirm``. A webhook secret is sealed with the key from ``settings`` (required with a secret)."""
    if secret and settings is None:
        raise ValueError("a webhook secret is sealed with the key from settings: pass settings")
    t = _table()
    values = {"enterprise_id": enterprise_id, "need_id": need_id, "channel": Channel(channel).value, "url": url,
              "secret": seal(secret, settings) if secret else None, "email": email, "top_n": top_n,  # type: ignore[arg-type]
              "min_score": min_score, "delivery": Delivery(delivery).value, "created_at": datetime.now(UTC),
              "active": verify_hash is None, "verify_hash": verify_hash}  # fmt: skip
    with store.engine.begin() as conn:
        sub_id = conn.execute(sa.insert(t).values(**values).returning(t.c.id)).scalar_one()
    return get(store, sub_id, pending=True)  # type: ignore[return-value]


def get(store: Store, sub_id: int, *, pending: bool = False) -> Subscription | None:
    """An active subscription (or one awaiting confirmation, with ``pending``), or ``None``."""
    t = _table()
    alive = sa.or_(t.c.active.is_(True), t.c.verify_hash.is_not(None)) if pending else t.c.active.is_(True)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == sub_id, alive)).first()
    return None if row is None else _from_row(row)


def awaiting(store: Store, enterprise_id: str) -> list[Subscription]:
    """An enterprise's subscriptions awaiting confirmation of their address, oldest first."""
    t = _table()
    q = sa.select(t).where(t.c.verify_hash.is_not(None), t.c.enterprise_id == enterprise_id).order_by(t.c.id)
    with store.engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(q)]


def confirm(store: Store, sub_id: int, verify_hash: str) -> bool:
    """Activate a pending subscription when ``verify_hash`` is its token's; ``False`` otherwise."""
    t = _table()
    with store.engine.begin() as conn:
        return conn.execute(sa.update(t).where(t.c.id == sub_id, t.c.verify_hash == verify_hash)
                            .values(active=True, verify_hash=None)).rowcount > 0  # fmt: skip


def active(store: Store, enterprise_id: str | None = None) -> list[Subscription]:
    """Active subscriptions (of one enterprise, or all), oldest first."""
    t = _table()
    q = sa.select(t).where(t.c.active.is_(True)).order_by(t.c.id)
    if enterprise_id is not None:
        q = q.where(t.c.enterprise_id == enterprise_id)
    with store.engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(q)]


def deactivate(store: Store, sub_id: int) -> bool:
    """End a subscription (pending or active): nothing new is matched for it; alerts already made stay in the inbox
    and the outbox."""
    t = _table()
    alive = sa.or_(t.c.active.is_(True), t.c.verify_hash.is_not(None))
    with store.engine.begin() as conn:
        return conn.execute(sa.update(t).where(t.c.id == sub_id, alive)
                            .values(active=False, verify_hash=None)).rowcount > 0  # fmt: skip
