"""Saved searches in the store, on a real SQLite file and a real PostgreSQL: owned per key, bounded per key, and
erasure deletes the searches naming the talent while the talent's seen ids go with its row."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service import db, saved_searches
from service.api.errors import ApiError
from service.keys import authenticate, create_key
from service.saved_searches import SAVED_MAX, SavedSearchIn
from service.store import Store


@pytest.fixture
def store(db_url, world_dir):
    with Store(db_url) as s:
        assert s.import_path(world_dir).ok
        yield s


def test_searches_belong_to_their_key_and_are_bounded(store):
    mine, other = (authenticate(store, create_key(store, "recruiter")) for _ in range(2))
    first = saved_searches.create(store, mine, SavedSearchIn(name="钙钛矿", query="钙钛矿 perovskite", tier=["B"]))
    assert first.search == {"query": "钙钛矿 perovskite", "kind": "special_researcher", "k": 20, "offset": 0,
                            "tier": ["B"]}  # fmt: skip
    assert saved_searches.get(store, mine, first.id) == first and saved_searches.list_own(store, other) == []
    for call in (saved_searches.get, saved_searches.delete):
        with pytest.raises(ApiError) as e:
            call(store, other, first.id)
        assert e.value.status == 404
    for i in range(SAVED_MAX - 1):
        saved_searches.create(store, mine, SavedSearchIn(name=f"s{i}", query="x"))
    with pytest.raises(ApiError) as full:
        saved_searches.create(store, mine, SavedSearchIn(name="one more", query="x"))
    assert full.value.status == 409 and len(saved_searches.list_own(store, mine)) == SAVED_MAX
    saved_searches.create(store, other, SavedSearchIn(name="one more", query="x"))  # the bound is per key


def test_erasure_deletes_searches_naming_the_talent_and_their_seen_ids_go_with_the_row(store):
    key = authenticate(store, create_key(store, "recruiter"))
    keep = saved_searches.create(store, key, SavedSearchIn(name="perovskite", query="perovskite"))
    by_query = saved_searches.create(store, key, SavedSearchIn(name="who", query="LI WEI perovskite"))
    by_name = saved_searches.create(store, key, SavedSearchIn(name="李伟的检索", query="thin films"))
    seen = db.SavedSearchSeenRow.__table__
    with store.engine.begin() as conn:
        conn.execute(sa.insert(seen), [{"search_id": keep.id, "talent_id": t} for t in ("t1", "t2")])
    assert saved_searches.erase_talent(store, "t1", ["李伟", "Li Wei"]) == 2
    assert [s.id for s in saved_searches.list_own(store, key)] == [keep.id]
    assert {s.id for s in saved_searches.list_own(store, key)}.isdisjoint({by_query.id, by_name.id})
    store.delete("talent", "t1")
    with store.engine.connect() as conn:
        assert list(conn.execute(sa.select(seen.c.search_id, seen.c.talent_id))) == [(keep.id, "t2")]
