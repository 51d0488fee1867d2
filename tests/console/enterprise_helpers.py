"""Seeding an enterprise's alerts for the console tests: a subscription and an alert row made by the matcher's own
insert (what a matching talent's arrival writes), so the inbox shows a real alert without waiting for a match."""

from __future__ import annotations

from datetime import UTC, datetime

from service.alerts import subscriptions as subs_db
from service.alerts.matching import Match, _insert_alert
from service.alerts.subscriptions import Channel
from service.store import Store


def seed_alert(url: str, enterprise_id: str = "e1", need_id: str = "n-pv", talent_id: str = "t-pv1",
               channel: Channel = Channel.inbox, **fields) -> tuple[int, int]:  # fmt: skip
    """An alert of ``talent_id`` on ``need_id`` for a new subscription; returns (subscription id, alert id)."""
    with Store(url) as store:
        sub = subs_db.create(store, enterprise_id=enterprise_id, need_id=need_id, channel=channel, top_n=5, **fields)
        card = {"id": talent_id, "masked": False, "name": talent_id, "skills": []}
        payload = {"need": {"id": need_id, "title": "need"}, "talent": card, "reasons": []}
        match = Match(need_id, talent_id, 0.8, "top_n", [sub])
        with store.engine.begin() as conn:
            created = _insert_alert(conn, sub, match, payload, datetime.now(UTC), False, {})
    return sub.id, created.id
