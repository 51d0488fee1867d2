"""Relations through the API on a real server and SQLite file: the office writes them, no enterprise reads them, bad
bodies are 422 naming the field, imports are all or nothing with lines; and the conflict rule they feed removes tied
talents from evaluated posts and flags an enterprise's own staff, with the relation and its source in the receipt."""

from __future__ import annotations

import orjson
import pytest
from api_helpers import auth

from service.store import Store


@pytest.fixture
def h(keys):
    return {name: auth(key) for name, key in keys.items()}


def test_office_writes_reads_and_deletes_enterprises_read_nothing(server, h):
    body = {"talent_id": "t4", "enterprise_id": "e1", "kind": "founder_or_shareholder", "source": "business register"}
    r = server.post("/relations", json=body, headers=h["recruiter"])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert rid.startswith("rel-")
    assert server.post("/relations", json=body, headers=h["recruiter"]).status_code == 409  # same content, same id
    assert server.get(f"/relations/{rid}", headers=h["data_team"]).json()["source"] == "business register"
    listed = server.get("/relations", params={"enterprise_id": "e1"}, headers=h["admin"]).json()
    assert [x["id"] for x in listed["items"]] == [rid] and listed["total"] == 1
    assert server.get("/relations", params={"talent_id": "t2"}, headers=h["recruiter"]).json()["total"] == 1
    for key in ("e1", "e2"):  # not even the relations naming its own enterprise
        assert server.get(f"/relations/{rid}", headers=h[key]).status_code == 403
        assert server.get("/relations", headers=h[key]).status_code == 403
        assert server.post("/relations", json=body, headers=h[key]).status_code == 403
        assert server.delete(f"/relations/{rid}", headers=h[key]).status_code == 403
    assert server.post("/relations", json=body, headers=h["data_team"]).status_code == 403
    replaced = {**body, "id": rid, "end": "2025-01-31"}
    assert server.put(f"/relations/{rid}", json=replaced, headers=h["recruiter"]).status_code == 200
    assert server.get(f"/relations/{rid}", headers=h["recruiter"]).json()["end"] == "2025-01-31"
    assert server.delete(f"/relations/{rid}", headers=h["recruiter"]).status_code == 204
    assert server.get(f"/relations/{rid}", headers=h["recruiter"]).status_code == 404
    assert server.delete(f"/relations/{rid}", headers=h["recruiter"]).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "boss"}, "kind"),
        ({"person": "Wang Fang"}, "person"),  # both an enterprise and a person
        ({"enterprise_id": None}, "person"),  # neither
        ({"kind": "former_employee"}, "end"),  # a former employee needs the end date
        ({"end": "2020-01-01", "start": "2021-01-01"}, "end"),
        ({"talent_id": "t-nobody"}, "talent_id"),
        ({"enterprise_id": "e-nobody"}, "enterprise_id"),
        ({"source": None}, "source"),
        ({"since": "2020"}, "since"),
    ],
)
def test_bad_bodies_are_422_naming_the_field_and_write_nothing(server, h, sqlite_url, change, field):
    body = {"talent_id": "t4", "enterprise_id": "e1", "kind": "employee", "source": "hr"} | change
    body = {k: v for k, v in body.items() if v is not None}
    r = server.post("/relations", json=body, headers=h["recruiter"])
    assert (r.status_code, r.json()["error"]["field"]) == (422, field), r.text
    with Store(sqlite_url) as store:
        assert store.count("relation") == 2  # the small world's two


def test_bulk_import_is_all_or_nothing_with_line_numbers(server, h, sqlite_url):
    good = {"talent_id": "t4", "enterprise_id": "e2", "kind": "co_author", "source": "import"}
    lines = [
        good,
        {"talent_id": "t4", "enterprise_id": "e2", "kind": "cousin", "source": "import"},
        {"talent_id": "t-nobody", "enterprise_id": "e2", "kind": "employee", "source": "import"},
        {"talent_id": "t4", "enterprise_id": "e2", "person": "Wang", "kind": "co_author", "source": "import"},
        {"talent_id": "t4", "kind": "co_author", "source": "import"},
    ]
    body = b"".join(orjson.dumps(x) + b"\n" for x in lines)
    r = server.post("/relations/import", content=body, headers=h["recruiter"])
    assert r.status_code == 422, r.text
    errors = r.json()["error"]["errors"]
    assert [e.split(": ")[0].rsplit(":", 1)[-1] for e in errors] == ["2", "4", "5", "3"], errors
    assert any("kind" in e for e in errors) and any("unknown talent 't-nobody'" in e for e in errors)
    with Store(sqlite_url) as store:
        assert store.count("relation") == 2
    ok = server.post("/relations/import", content=orjson.dumps(good) + b"\n", headers=h["recruiter"])
    assert ok.status_code == 200 and ok.json()["inserted"] == 1


def _ids(body: dict) -> list[str]:
    return [c["talent_id"] for c in body["candidates"]]


def test_conflict_removes_ties_on_evaluated_posts_and_flags_own_staff(server, h):
    t3 = server.get("/talents/t3", headers=h["recruiter"]).json() | {"skills": ["perovskite", "钙钛矿"]}
    assert server.put("/talents/t3", json=t3, headers=h["recruiter"]).status_code == 200  # retrieved for n1
    before = server.get("/needs/n1/candidates", headers=h["recruiter"]).json()
    assert "t1" in _ids(before) and "conflict" not in before["removed"]
    # Li Wei (t1) now works at e1 (by the profile's employer, its Chinese name with a legal form); t3 declared
    # co-authorship with Li Wei in the small world: both are tied to e1.
    t1 = server.get("/talents/t1", headers=h["recruiter"]).json() | {"employer": "嘉光新能源有限公司"}
    assert server.put("/talents/t1", json=t1, headers=h["recruiter"]).status_code == 200
    after = server.get("/needs/n1/candidates", headers=h["recruiter"]).json()  # special researcher: evaluated
    assert "t1" not in _ids(after) and after["removed"].get("conflict", 0) >= 1
    receipt = server.get(f"/rankings/{after['ranking_id']}", headers=h["recruiter"]).json()
    conflicts = receipt["summary"]["conflicts"]
    assert {"kind": "employee", "source": "profile employer", "enterprise_id": "e1"} in conflicts
    co_author = next(c for c in conflicts if c["kind"] == "co_author")
    assert co_author["source"] == "self-declared" and co_author["relation_id"].startswith("rel-")
    assert all("talent_id" not in c and "person" not in c for c in conflicts)  # nothing an erasure must chase
    as_e1 = server.get(f"/rankings/{after['ranking_id']}", headers=h["e1"])  # its own need's receipt
    assert as_e1.status_code == 200 and "conflicts" not in as_e1.json()["summary"]

    # An ordinary post of e2: its declared current employee stays, flagged internal in reasons and receipt.
    rel = {"talent_id": "t2", "enterprise_id": "e2", "kind": "employee", "source": "Acme HR list"}
    assert server.post("/relations", json=rel, headers=h["recruiter"]).status_code == 201
    ranked = server.get("/needs/n2/candidates", headers=h["recruiter"]).json()
    assert "t2" in _ids(ranked) and "conflict" not in ranked["removed"]
    flagged = next(c for c in ranked["candidates"] if c["talent_id"] == "t2")
    assert flagged["reasons"][0]["code"] == "flag:internal" and "Acme HR list" in flagged["reasons"][0]["en"]
    others = [c for c in ranked["candidates"] if c["talent_id"] != "t2"]
    assert all(r["code"] != "flag:internal" for c in others for r in c["reasons"])
    receipt = server.get(f"/rankings/{ranked['ranking_id']}", headers=h["recruiter"]).json()
    shown = next(c for c in receipt["candidates"] if c["talent_id"] == "t2")
    assert shown["reasons"][0]["code"] == "flag:internal"
    declared = server.get("/relations", params={"talent_id": "t2", "kind": "employee"}, headers=h["recruiter"])
    tie = {
        "kind": "employee",
        "source": "Acme HR list",
        "enterprise_id": "e2",
        "relation_id": declared.json()["items"][0]["id"],
    }
    assert tie in receipt["summary"]["conflicts"]


def test_relation_writes_reach_another_process_and_cached_rankings(tmp_path, world_dir):
    """Two apps on one SQLite file: a relation written through one removes the talent from the other's evaluated
    post within the sync bound; its deletion brings the talent back; a cached ranking is not served stale."""
    import time

    import httpx
    from api_helpers import run_server, seed, settings_for

    from service.api.app import create_app

    url = f"sqlite:///{tmp_path / 'two.db'}"
    h = {k: auth(v) for k, v in seed(url, world_dir).items()}
    a = create_app(settings_for(url, tmp_path, sync_seconds=0))
    b = create_app(settings_for(url, tmp_path, sync_seconds=0.2))
    with (
        run_server(a) as base_a,
        run_server(b) as base_b,
        httpx.Client(base_url=base_a) as ca,
        httpx.Client(base_url=base_b) as cb,
    ):

        def ranked_by(client):
            return _ids(client.get("/needs/n1/candidates", headers=h["recruiter"]).json())

        def within(check, bound=5.0):
            t0 = time.monotonic()
            while not check():
                assert time.monotonic() - t0 < bound, "not seen within the bound"
                time.sleep(0.05)

        assert "t1" in ranked_by(ca) and "t1" in ranked_by(cb)  # both now hold a cached ranking
        body = {"id": "r-t1", "talent_id": "t1", "enterprise_id": "e1", "kind": "founder_or_shareholder", "source": "x"}
        assert ca.post("/relations", json=body, headers=h["recruiter"]).status_code == 201
        assert "t1" not in ranked_by(ca)  # this process: at once, its cache notwithstanding
        within(lambda: "t1" not in ranked_by(cb))
        assert ca.delete("/relations/r-t1", headers=h["recruiter"]).status_code == 204
        assert "t1" in ranked_by(ca)
        within(lambda: "t1" in ranked_by(cb))
        t1 = ca.get("/talents/t1", headers=h["recruiter"]).json() | {"employer": "Jiaguang"}
        assert ca.put("/talents/t1", json=t1, headers=h["recruiter"]).status_code == 200
        assert "t1" in ranked_by(ca)  # no enterprise is called Jiaguang yet
        e1 = ca.get("/enterprises/e1", headers=h["recruiter"]).json() | {"name_en": "Jiaguang Co., Ltd."}
        assert ca.put("/enterprises/e1", json=e1, headers=h["recruiter"]).status_code == 200
        assert "t1" not in ranked_by(ca)
        within(lambda: "t1" not in ranked_by(cb))
