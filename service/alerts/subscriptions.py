"""Subscriptions in the database: what an enterprise wants to hear about, and through which channel; when one is in
force (offboarding: an enterprise without a live key, or a need moved to another enterprise, hears nothing more)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from features.records import Need
from service import db
from service.alerts.sealing import PREFIX, seal
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

    def covers(self, need: Need) -> bool:
        """Whether this subscription is about that need: one of its enterprise's (a need reassigned to another
        enterprise no longer feeds a subscription made for it), and the one it names, if any."""
        return need.enterprise_id == self.enterprise_id and self.need_id in (None, need.id)


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


def seal_plaintext(store: Store, settings: Settings, sub_ids: Iterable[int] | None = None) -> int:
    """Seal webhook secrets stored in clear before sealing existed (of ``sub_ids``, or all): the dispatcher does it
    for each subscription it sends for, ``talentmatch alerts seal-secrets`` for every one at once. A row is written
    only while it still holds the clear value read, so racing sealers seal it once. Returns how many were sealed."""
    t = _table()
    q = sa.select(t.c.id, t.c.secret).where(t.c.secret.is_not(None), t.c.secret.not_like(f"{PREFIX}%"))
    if sub_ids is not None:
        q = q.where(t.c.id.in_(sorted(sub_ids)))
    with store.engine.connect() as conn:
        clear = conn.execute(q).all()
    if not clear:
        return 0
    with store.engine.begin() as conn:
        return sum(conn.execute(sa.update(t).where(t.c.id == r.id, t.c.secret == r.secret)
                                .values(secret=seal(r.secret, settings))).rowcount for r in clear)  # fmt: skip


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


def in_force_clause() -> sa.ColumnElement[bool]:
    """SQL over ``subscriptions``: a subscription is in force while it is active, its enterprise exists and holds a
    key not revoked (offboarding an enterprise is revoking its keys), and, naming a need, that need is still its
    enterprise's. Only subscriptions in force are matched and have messages sent."""
    t, k, e, n = _table(), db.ApiKeyRow.__table__, db.table("enterprise"), db.table("need")
    return sa.and_(
        t.c.active.is_(True),
        sa.exists().where(e.c.id == t.c.enterprise_id),
        sa.exists().where(k.c.enterprise_id == t.c.enterprise_id, k.c.revoked_at.is_(None)),
        sa.or_(t.c.need_id.is_(None), sa.exists().where(n.c.id == t.c.need_id, n.c.enterprise_id == t.c.enterprise_id)),
    )


def in_force_ids() -> sa.Select:
    """``SELECT id`` of the subscriptions in force, to use in ``IN (…)``."""
    t = _table()
    return sa.select(t.c.id).where(in_force_clause())


def still_in_force(conn: Connection, sub_ids: set[int]) -> set[int]:
    """Which of ``sub_ids`` are in force now (a matcher's copy may be older: a key revoked by the CLI, say)."""
    if not sub_ids:
        return set()
    t = _table()
    return set(conn.scalars(sa.select(t.c.id).where(t.c.id.in_(sorted(sub_ids)), in_force_clause())))


def cancel_messages(conn: Connection, which: Callable[[sa.Column], sa.ColumnElement[bool]], why: str) -> int:
    """Cancel the undelivered messages of the subscriptions ``which`` selects (a condition on a subscription id
    column) and their alerts, those waiting for a daily digest too; inbox alerts stay. A message a dispatcher holds
    loses its lease token, so that dispatcher cannot record an outcome over the cancellation. Writes only (the
    first statement takes SQLite's write lock, so no read snapshot goes stale before it). Returns the messages
    cancelled."""
    o, a = db.OutboxRow.__table__, db.AlertRow.__table__
    ids = conn.scalars(
        sa.update(o).where(o.c.status == "pending", which(o.c.subscription_id))
        .values(status="cancelled", last_error=why, locked_until=None, lease_token=None).returning(o.c.id)
    ).all()  # fmt: skip
    if ids:
        conn.execute(sa.update(a).where(a.c.outbox_id.in_(ids)).values(status="cancelled"))
    conn.execute(sa.update(a).where(a.c.status == "digest", which(a.c.subscription_id)).values(status="cancelled"))
    return len(ids)


def _gone(subscription_id: sa.Column) -> sa.ColumnElement[bool]:
    return subscription_id.not_in(in_force_ids())


def cancel_out_of_force(store: Store) -> int:
    """Cancel the undelivered messages of every subscription not in force (the dispatcher's claim runs this each
    pass: a read, and a write only when there is something to cancel)."""
    o, a = db.OutboxRow.__table__, db.AlertRow.__table__
    with store.engine.connect() as conn:
        found = conn.scalar(
            sa.select(sa.literal(1)).where(
                sa.or_(
                    sa.exists().where(o.c.status == "pending", _gone(o.c.subscription_id)),
                    sa.exists().where(a.c.status == "digest", _gone(a.c.subscription_id)),
                )
            )
        )
    if not found:
        return 0
    with store.engine.begin() as conn:
        return cancel_messages(conn, _gone, "subscription no longer in force")


def deactivate(store: Store, sub_id: int) -> bool:
    """End a subscription (pending or active): nothing new is matched for it and its undelivered messages are
    cancelled; alerts already in the inbox stay."""
    t = _table()
    alive = sa.or_(t.c.active.is_(True), t.c.verify_hash.is_not(None))
    with store.engine.begin() as conn:
        ended = conn.execute(sa.update(t).where(t.c.id == sub_id, alive)
                             .values(active=False, verify_hash=None)).rowcount  # fmt: skip
        if ended:
            cancel_messages(conn, lambda col: col == sub_id, "subscription deleted")
    return ended > 0
