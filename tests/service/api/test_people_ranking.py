"""One card per person: a ranking shows a person once however many records the office linked, a merge or an undo
shows at the next request, and erasing a person erases every record of them (a real server, a real SQLite file)."""

from __future__ import annotations

import random

import httpx
import pytest
from api_helpers import auth, run_server, seed, settings_for

from matcher.pipeline import SAME_PERSON, one_per_person
from service import people
from service.api.app import create_app
from service.store import Store

# t1 (李伟) arrives again from another platform, in pinyin; t5 is someone else with the same expertise.
AGAIN = {"id": "t1b", "name": "Wei Li", "tier": "B", "nationality": "CN", "skills": ["perovskite", "thin films"],
         "residence": {"country": "CN", "city": "Shanghai", "in_yrd": True},
         "works": [{"title": "Stable perovskite cells", "year": 2021, "kind": "paper"}],
         "availability": {"mode": "short_term", "months_per_year": 4}, "consent": {"sharing": True}}  # fmt: skip
OTHER = {"id": "t5", "name": "Maria Rossi", "tier": "C", "skills": ["perovskite", "thin films"],
         "availability": {"mode": "short_term", "months_per_year": 3}}  # fmt: skip


def test_each_person_keeps_their_best_ranked_record_in_order() -> None:
    ids = ["a", "b", "c", "d", "e"]
    assert one_per_person(ids, {"a": "P", "c": "P", "e": "P", "d": "Q"}).tolist() == [0, 1, 3]
    assert one_per_person(ids, {"b": "Q", "d": "Q"}).tolist() == [0, 1, 2, 4]
    assert one_per_person(ids, {}).tolist() == [0, 1, 2, 3, 4]
    # a person id that is also a record's id: that record is a member, so it is the same person
    assert one_per_person(["x", "y"], {"x": "x", "y": "x"}).tolist() == [0]
    # pools of 300 with 0–40 persons of 2–4 records, against the definition: a record stays unless a record of
    # its person ranks above it
    rng = random.Random(5)
    for _ in range(50):
        pool = rng.sample([f"t{i}" for i in range(2000)], 300)
        links: dict[str, str] = {}
        for p in range(rng.randrange(41)):
            for t in rng.sample(pool, rng.randrange(2, 5)):
                links.setdefault(t, f"P{p}")
        best: dict[str, int] = {}
        expected = [i for i, t in enumerate(pool) if best.setdefault(links.get(t, t), i) == i]
        assert one_per_person(pool, links).tolist() == expected


@pytest.fixture
def client(tmp_path, world_dir):
    url = f"sqlite:///{tmp_path / 'people.db'}"
    keys = seed(url, world_dir)
    with run_server(create_app(settings_for(url, tmp_path))) as base, httpx.Client(base_url=base, timeout=30) as c:
        c.keys, c.url = keys, url
        for talent in (AGAIN, OTHER):
            assert c.put(f"/talents/{talent['id']}", json=talent, headers=auth(keys["recruiter"])).status_code == 201
        with Store(url) as store:
            people.apply(store, list(store.iter_records("talent")))
        yield c


def _ranked(c, who="recruiter") -> dict:
    r = c.get("/needs/n1/candidates", params={"k": 20}, headers=auth(c.keys[who]))
    assert r.status_code == 200, r.text
    return r.json()


def _together(c) -> str:
    """t1 and t1b one person (the office confirms the pair if the linkage did not already join them)."""
    with Store(c.url) as store:
        persons = people.persons_of(store, ["t1", "t1b"])
    if not persons:
        r = c.post("/people/review", json={"left": "t1", "right": "t1b", "decision": "confirm"},
                   headers=auth(c.keys["recruiter"]))  # fmt: skip
        assert r.status_code == 200, r.text
        persons = r.json()["persons"]
    assert persons["t1"] == persons["t1b"]
    return persons["t1"]


def test_a_person_is_ranked_once_and_an_undo_brings_the_records_back(client) -> None:
    c = client
    person = _together(c)
    body = _ranked(c)
    ids = [x["talent_id"] for x in body["candidates"]]
    assert len({"t1", "t1b"} & set(ids)) == 1 and "t5" in ids
    shown = next(x for x in body["candidates"] if x["talent_id"] in ("t1", "t1b"))
    assert shown["person_id"] == person
    assert next(x for x in body["candidates"] if x["talent_id"] == "t5")["person_id"] is None
    assert body["removed"][SAME_PERSON] == 1
    receipt = c.get(f"/rankings/{body['ranking_id']}", headers=auth(c.keys["recruiter"])).json()
    assert receipt["summary"]["removed"][SAME_PERSON] == 1
    named = {x["talent_id"]: x["person_id"] for x in receipt["candidates"]}
    assert named[shown["talent_id"]] == person and named["t5"] is None  # the receipt names the person

    # the enterprise that owns the need sees one card too, without the office's person ids
    tenant = _ranked(c, "e1")
    assert len({"t1", "t1b"} & {x["talent_id"] for x in tenant["candidates"]}) == 1
    assert all(x["person_id"] is None for x in tenant["candidates"])
    tenant_receipt = c.get(f"/rankings/{tenant['ranking_id']}", headers=auth(c.keys["e1"])).json()
    assert all(x["person_id"] is None for x in tenant_receipt["candidates"])

    undone = c.post(f"/people/{person}/undo", headers=auth(c.keys["recruiter"]))
    assert undone.status_code == 200, undone.text
    again = _ranked(c)  # the cached ranking is not served after the split
    assert {"t1", "t1b"} <= {x["talent_id"] for x in again["candidates"]}
    assert SAME_PERSON not in again["removed"] and all(x["person_id"] is None for x in again["candidates"])


def test_erasing_a_person_erases_every_record_of_them(client) -> None:
    c = client
    person = _together(c)
    _ranked(c)  # a receipt names the shown record
    assert c.delete(f"/people/{person}", headers=auth(c.keys["e1"])).status_code == 403
    r = c.delete(f"/people/{person}", headers=auth(c.keys["recruiter"]))
    assert r.status_code == 200, r.text
    assert sorted(r.json()["records"]) == ["t1", "t1b"] and r.json()["receipt_rows"] >= 1
    for tid in ("t1", "t1b"):
        assert c.get(f"/talents/{tid}", headers=auth(c.keys["recruiter"])).status_code == 404
    assert not {"t1", "t1b"} & {x["talent_id"] for x in _ranked(c)["candidates"]}
    assert c.get(f"/people/{person}", headers=auth(c.keys["recruiter"])).status_code == 404
    assert c.delete(f"/people/{person}", headers=auth(c.keys["recruiter"])).status_code == 404
