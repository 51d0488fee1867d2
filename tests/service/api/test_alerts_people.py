"""Alerts per person: an enterprise hears of a person once for a need, whichever of the person's records matched,
while two different people with the same profile are two alerts (real SQLite, the matcher as the API's writer runs
it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alert_helpers import World, perovskite_talents

from service import people
from service.alerts.subscriptions import Channel

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _one_person(w: World, a, b) -> None:
    w.store.upsert([a, b])
    people.apply(w.store, list(w.store.iter_records("talent")))
    if not people.persons_of(w.store, [a.id, b.id]):
        people.decide(w.store, a.id, b.id, "confirm")
    assert len(set(people.persons_of(w.store, [a.id, b.id]).values())) == 1


def test_two_records_of_one_person_alert_once_and_a_later_copy_does_not_alert_again(tmp_path, world_dir):
    w = World(tmp_path, world_dir, alerts_score_margin=0.05)
    w.subscribe(channel=Channel.inbox)
    a, stranger = perovskite_talents(2)
    again = a.model_copy(update={"id": "tp0-platform2", "name": "Researcher Zero"})  # the same person, once more
    _one_person(w, a, again)

    created = w.arrive([a, again], now=T0)
    assert len(created) == 1 and created[0].talent_id in {a.id, again.id}
    # the other record changes later (same expertise): the person was already alerted for the need
    changed = again.model_copy(update={"summary": again.summary + " and tandem devices"})
    assert w.arrive([changed], now=T0 + timedelta(hours=1)) == []
    # someone else with the same expertise is another person: alerted
    assert [c.talent_id for c in w.arrive([stranger], now=T0 + timedelta(hours=2))] == [stranger.id]


def test_without_the_link_each_record_alerts(tmp_path, world_dir):
    """The control: the same two records, not linked, are two alerts (what the person check prevents above)."""
    w = World(tmp_path, world_dir, alerts_score_margin=0.05)
    w.subscribe(channel=Channel.inbox)
    a = perovskite_talents(1)[0]
    again = a.model_copy(update={"id": "tp0-platform2", "name": "Researcher Zero", "email": None})
    assert len(w.arrive([a, again], now=T0)) == 2
