"""``/people`` on a real uvicorn server over a real SQLite file: the review queue, confirm/reject, the golden record,
undo, and who may reach them."""

from __future__ import annotations

import httpx
import orjson
import pytest
from api_helpers import auth, run_server, seed, settings_for
from people_helpers import REVIEW, extra, people_talents

from features.records import dump
from service import people
from service.api.app import create_app
from service.store import Store


@pytest.fixture
def client(tmp_path, world_dir):
    url = f"sqlite:///{tmp_path / 'people.db'}"
    keys = seed(url, world_dir)
    with Store(url) as store:
        assert store.upsert(people_talents()).ok
        people.apply(store, list(store.iter_records("talent")))
    with run_server(create_app(settings_for(url, tmp_path))) as base, httpx.Client(base_url=base, timeout=30) as c:
        c.keys = keys
        yield c


def _get(c, path, who="recruiter", **kw):
    return c.get(path, headers=auth(c.keys[who]), **kw)


def _post(c, path, body=None, who="recruiter"):
    return c.post(path, json=body, headers=auth(c.keys[who]))


def test_review_confirm_reject_golden_and_undo(client):
    c = client
    queue = _get(c, "/people/review").json()
    assert [(p["left"]["talent_id"], p["right"]["talent_id"]) for p in queue] == REVIEW
    assert queue[0]["left"]["email"] == "p***@example.com" and 0.3 <= queue[0]["probability"] < 0.9
    assert _get(c, "/people/review", who="data_team").status_code == 200
    assert len(_get(c, "/people/review", params={"limit": 1}).json()) == 1

    done = _post(c, "/people/review", {"left": "T001", "right": "W001", "decision": "confirm"})
    assert done.status_code == 200 and done.json()["persons"] == {"T001": "T001", "W001": "T001"}
    assert _post(c, "/people/review", {"left": "W002", "right": "T002", "decision": "reject"}).status_code == 200
    assert [p["left"]["talent_id"] for p in _get(c, "/people/review").json()] == ["T003"]

    card = _get(c, "/people/T001", who="data_team").json()
    assert [(r["talent_id"], r["how"]) for r in card["records"]] == [("T001", "linked"), ("W001", "confirmed")]
    assert card["golden"]["name_zh"] == "李立丽" and card["provenance"]["name"] in ("T001", "W001")
    assert card["provenance"]["works"] == ["T001"] and card["golden"]["email"] == "p1@example.com"  # office: whole
    log = _get(c, "/audit", who="admin", params={"object_kind": "talent"}).json()
    assert "items" in log, log
    assert {"T001", "W001"} <= {e["object_id"] for e in log["items"]}

    undone = _post(c, "/people/T001/undo")
    assert undone.status_code == 200 and undone.json()["records"] == ["T001", "W001"]
    assert _get(c, "/people/W001").json()["records"][0]["how"] == "split"
    again = _post(c, "/people/review", {"left": "T000", "right": "D000", "decision": "reject"})
    assert again.status_code == 409 and "undo it first" in again.json()["error"]["message"]


def test_bad_input_is_422_naming_the_field_and_unknown_ids_404(client):
    c = client
    for body, field in [
        ({"left": "T001", "right": "W001", "decision": "maybe"}, "decision"),
        ({"left": "T001", "decision": "confirm"}, "right"),
        ({"left": "T 001", "right": "W001", "decision": "confirm"}, "left"),
        ({"left": "T001", "right": "T001", "decision": "confirm"}, "right"),
    ]:
        r = _post(c, "/people/review", body)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (body, r.text)
    r = _post(c, "/people/review", {"left": "T001", "right": "ghost", "decision": "confirm"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "right"
    assert _get(c, "/people/ghost").status_code == 404
    assert _post(c, "/people/ghost/undo").status_code == 404
    assert _get(c, "/people/review", params={"limit": 0}).json()["error"]["field"] == "limit"
    assert _get(c, "/people/T001").json()["records"][0]["how"] == "linked"  # nothing written by the refusals


def test_enterprises_and_the_data_team_are_refused(client):
    c = client
    for who in ("e1", "e2"):
        assert _get(c, "/people/review", who=who).status_code == 403
        assert _get(c, "/people/D000", who=who).status_code == 403
        assert _post(c, "/people/review", {"left": "T001", "right": "W001", "decision": "confirm"},
                     who=who).status_code == 403  # fmt: skip
        assert _post(c, "/people/D000/undo", who=who).status_code == 403
    assert _post(c, "/people/D000/undo", who="data_team").status_code == 403  # reads only
    assert c.get("/people/D000").status_code == 401
    assert _get(c, "/people/D000").json()["records"][1]["talent_id"] == "T000"  # still one person


def test_erasing_the_talent_a_person_is_named_by_renames_the_person(client):
    c = client
    assert c.delete("/talents/D000", headers=auth(c.keys["recruiter"])).status_code == 200
    assert _get(c, "/people/D000").status_code == 404  # the erased id names nothing any more
    card = _get(c, "/people/T000").json()
    assert [r["talent_id"] for r in card["records"]] == ["T000"] and "D000" not in str(card)


def test_an_import_links_the_new_talents_into_the_existing_people(client):
    """`POST /talents/import` links what it wrote with the model of the last full link (247 records: the people world
    and the seeded world's four): V003 (T003 in pinyin with its work) joins T003's person, N999 stays alone; with
    `link=false` a record waits in no person."""
    c = client
    body = "".join(orjson.dumps(dump(t)).decode() + "\n" for t in extra())
    r = c.post("/talents/import", content=body, headers=auth(c.keys["recruiter"]))
    assert r.status_code == 200, r.text
    linked = r.json()["people"]
    assert (linked["linked"], linked["new_records"], linked["joined"], linked["existing_records"]) == (True, 2, 1, 247)
    assert [m["talent_id"] for m in _get(c, "/people/T003").json()["records"]] == ["T003", "V003"]
    assert _get(c, "/people/N999").json()["records"][0]["how"] == "linked"

    late = orjson.dumps({"id": "N998", "name": "Someone Else"}).decode() + "\n"
    r = c.post("/talents/import", params={"link": "false"}, content=late, headers=auth(c.keys["recruiter"]))
    assert r.status_code == 200 and r.json()["people"] is None
    assert _get(c, "/people/N998").status_code == 404  # in no person until the next import or link


PEROVSKITE = {"summary": "Perovskite thin films solar cells researcher", "skills": ["perovskite", "thin films"],
              "tier": "B", "availability": {"mode": "short_term", "months_per_year": 4}}  # fmt: skip
"""A profile need n1 of the small world alerts for."""


def _alerted(c) -> list[str]:
    got = c.get("/alerts", headers=auth(c.keys["e1"]))
    assert got.status_code == 200, got.text
    return sorted(a["talent"]["id"] for a in got.json()["items"])


@pytest.mark.parametrize("link", [True, False])
def test_an_imported_copy_of_someone_alerted_is_linked_before_the_alerts(client, link):
    """The import links first, then matches for alerts: V003 (T003 once more) joins T003's person, which the
    enterprise already heard of, so only the stranger is new. Without the link (the control) V003 alerts too."""
    c, office = client, auth(client.keys["recruiter"])
    sub = c.post(
        "/subscriptions", json={"need_id": "n1", "channel": "inbox", "min_score": 0.01}, headers=auth(c.keys["e1"])
    )
    assert sub.status_code == 201, sub.text
    t003 = c.get("/talents/T003", headers=office).json()
    assert c.put("/talents/T003", json={**t003, **PEROVSKITE}, headers=office).status_code == 200
    assert _alerted(c) == ["T003"]

    v003, stranger = extra()[0], {"id": "N997", "name": "Ola Nordmann", "email": "ola@example.org", **PEROVSKITE}
    body = orjson.dumps({**dump(v003), **PEROVSKITE}).decode() + "\n" + orjson.dumps(stranger).decode() + "\n"
    r = c.post("/talents/import", params={"link": str(link).lower()}, content=body, headers=office)
    assert r.status_code == 200, r.text
    if link:
        assert [m["talent_id"] for m in _get(c, "/people/T003").json()["records"]] == ["T003", "V003"]
        assert _alerted(c) == ["N997", "T003"]
    else:
        assert _alerted(c) == ["N997", "T003", "V003"]
