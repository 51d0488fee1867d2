"""The routes the console's pipeline board, shortlist export and saved searches stand on, through a real uvicorn
server over a real SQLite file and PostgreSQL (the ranking world, no champion): stages follow recorded feedback, a
card moves through the same function as ``POST /feedback``, exports keep cards masked and cells formula-free, saved
searches say what is new and forget erased talents; every route keeps to its roles and tenants."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, settings_for
from openpyxl import load_workbook
from ranking_world import seed_ranking_world

from service import audit, db, pipeline
from service.api.app import create_app
from service.api.errors import ApiError
from service.api.live import Writer
from service.api.schemas import MASKED_NAME
from service.keys import authenticate

EVIL = '=HYPERLINK("http://evil.example","open")'


@pytest.fixture
def api(db_url, tmp_path) -> Iterator[tuple[httpx.Client, dict[str, dict[str, str]], dict[str, str], object]]:
    """A server over the ranking world, on a real SQLite file and on PostgreSQL."""
    keys = seed_ranking_world(db_url, tmp_path / "world")
    url = db_url
    app = create_app(settings_for(url, tmp_path))
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, {name: auth(key) for name, key in keys.items()}, keys, app


def rank(client: httpx.Client, headers: dict[str, str], need: str = "n-pv") -> tuple[str, list[str]]:
    body = client.get(f"/needs/{need}/candidates", headers=headers).json()
    return body["ranking_id"], [c["talent_id"] for c in body["candidates"]]


def act(client, headers, talent: str, action: str, ranking_id: str, need: str = "n-pv") -> None:
    body = {"need_id": need, "talent_id": talent, "action": action, "ranking_id": ranking_id}
    r = client.post("/feedback", headers=headers, json=body)
    assert r.status_code == 201, r.text


def test_the_board_follows_feedback_and_a_card_moves_like_post_feedback(api):
    client, h, keys, app = api
    rid, _ = rank(client, h["recruiter"])
    for talent, action in [
        ("t-pv1", "shortlist"),
        ("t-pv2", "shortlist"),
        ("t-pv1", "contact"),
        ("t-pv1", "interview"),
        ("t-pv1", "offer"),
        ("t-pv4", "shortlist"),
        ("t-pv4", "reject"),
    ]:
        act(client, h["recruiter"], talent, action, rid)  # fmt: skip
    r = client.get("/needs/n-pv/pipeline", headers=h["recruiter"])
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["stages"] == {"shortlisted": 1, "contacted": 0, "interview": 0, "offer": 1, "hired": 0,
                               "rejected": 1}  # fmt: skip
    cards = {c["talent_id"]: c for c in board["candidates"]}
    assert [s["action"] for s in cards["t-pv1"]["history"]] == ["shortlist", "contact", "interview", "offer"]
    recruiter = authenticate(app.state.store, keys["recruiter"])
    assert {s["key_id"] for s in cards["t-pv1"]["history"]} == {recruiter.key_id}
    assert cards["t-pv1"]["ranking_id"] == rid and cards["t-pv1"]["card"]["name"] == "李伟"

    e1 = authenticate(app.state.store, keys["e1"])  # the console moves a card for the enterprise
    moved = pipeline.move(Writer(app.state), e1, "n-pv", "t-pv2", "interview")
    assert (moved.action.value, moved.ranking_id, moved.actor) == ("interview", rid, f"key:{e1.key_id} e1")
    with app.state.store.engine.connect() as conn:
        f = db.table("feedback")
        stored = conn.execute(sa.select(f.c.action).where(f.c.talent_id == "t-pv2").order_by(f.c.time)).scalars()
        assert list(stored) == ["shortlist", "interview"]
    with pytest.raises(ApiError) as bad:
        pipeline.move(Writer(app.state), e1, "n-pv", "t-pv2", "promoted")
    assert (bad.value.status, bad.value.field) == (422, "stage")
    with pytest.raises(ApiError) as never:  # never acted on from a ranking of the need: nothing to move from
        pipeline.move(Writer(app.state), e1, "n-pv", "t-bio", "shortlisted")
    assert (never.value.status, never.value.field) == (422, "ranking_id")
    with pytest.raises(ApiError) as other:
        pipeline.move(Writer(app.state), e1, "n-chip", "t-chip1", "shortlisted")
    assert other.value.status == 404  # another enterprise's need

    seen = client.get("/needs/n-pv/pipeline", headers=h["e1"]).json()
    cards = {c["talent_id"]: c for c in seen["candidates"]}
    assert cards["t-pv2"]["stage"] == "interview" and cards["t-pv2"]["card"]["masked"]
    assert cards["t-pv2"]["card"]["name"] == MASKED_NAME and cards["t-pv2"]["card"]["email"] is None
    steps = cards["t-pv2"]["history"]
    assert (steps[0]["key_id"], steps[1]["key_id"]) == (None, e1.key_id)  # the recruiter unnamed, its own key named
    assert client.get("/needs/n-pv/pipeline", headers=h["e2"]).status_code == 404
    assert client.get("/needs/nope/pipeline", headers=h["recruiter"]).status_code == 404
    assert client.get("/needs/n-pv/pipeline", headers=h["data_team"]).status_code == 403
    assert client.get("/needs/n-pv/pipeline").status_code == 401


def test_the_shortlist_exports_as_csv_and_xlsx_masked_formula_free_and_audited(api):
    client, h, _, app = api
    evil = {"id": "t-evil", "name": EVIL, "email": "-2+3@example.org", "tier": "C", "skills": ["perovskite"],
            "summary": "perovskite thin films solar cells", "availability": {"mode": "short_term",
                                                                              "months_per_year": 3},
            "consent": {"sharing": True}}  # fmt: skip
    assert client.post("/talents", headers=h["recruiter"], json=evil).status_code == 201
    rid, shown = rank(client, h["recruiter"])
    assert "t-evil" in shown
    for talent, action in [
        ("t-evil", "shortlist"),
        ("t-pv2", "shortlist"),
        ("t-pv2", "hire"),
        ("t-pv4", "shortlist"),
        ("t-pv4", "reject"),
    ]:
        act(client, h["recruiter"], talent, action, rid)  # fmt: skip

    r = client.get("/needs/n-pv/pipeline/export", headers=h["recruiter"], params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = {row["talent_id"]: row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))}
    assert set(rows) == {"t-evil", "t-pv2"}  # shortlisted and later, not the rejected
    assert rows["t-evil"]["name"] == "'" + EVIL and rows["t-evil"]["email"] == "'-2+3@example.org"
    assert (rows["t-pv2"]["stage"], rows["t-pv2"]["name"]) == ("hired", "Anna Schmidt")  # the office sees names

    r = client.get("/needs/n-pv/pipeline/export", headers=h["e1"], params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content)).active
    header = [c.value for c in sheet[1]]
    rows = {row[1].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)}
    assert set(rows) == {"t-evil", "t-pv2"}
    assert rows["t-pv2"]["name"].value == MASKED_NAME and rows["t-pv2"]["email"].value is None  # no sharing consent
    assert (rows["t-evil"]["name"].value, rows["t-evil"]["name"].data_type) == (EVIL, "s")  # text, not a formula

    entries, _ = audit.entries(app.state.store, object_kind="talent")
    exports = sorted((e.object_id, e.detail["format"]) for e in entries if e.action == "export")
    assert exports == [("t-evil", "csv"), ("t-evil", "xlsx"), ("t-pv2", "csv"), ("t-pv2", "xlsx")]
    bad = client.get("/needs/n-pv/pipeline/export", headers=h["recruiter"], params={"format": "pdf"})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "format")
    assert client.get("/needs/n-pv/pipeline/export", headers=h["e2"]).status_code == 404


def test_saved_searches_are_per_key_say_what_is_new_and_forget_erased_talents(api):
    client, h, _, app = api
    r = client.post("/searches", headers=h["recruiter"],
                    json={"name": "钙钛矿", "query": "钙钛矿 perovskite thin films", "k": 10})  # fmt: skip
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["visited_at"] is None and saved["search"]["query"] == "钙钛矿 perovskite thin films"
    naming = client.post("/searches", headers=h["recruiter"], json={"name": "Li Wei again", "query": "li wei"}).json()
    assert [s["id"] for s in client.get("/searches", headers=h["recruiter"]).json()] == [naming["id"], saved["id"]]
    assert client.get("/searches", headers=h["admin"]).json() == []
    for method in ("GET", "DELETE"):
        assert client.request(method, f"/searches/{saved['id']}", headers=h["admin"]).status_code == 404
    assert client.post("/searches", headers=h["e1"], json={"name": "x", "query": "x"}).status_code == 403

    first = client.get(f"/searches/{saved['id']}", headers=h["recruiter"]).json()
    shown = [c["talent_id"] for c in first["ranking"]["candidates"]]
    assert "t-pv1" in shown and first["new"] == shown and first["previous_visit"] is None
    again = client.get(f"/searches/{saved['id']}", headers=h["recruiter"]).json()
    assert again["new"] == [] and again["previous_visit"] == first["search"]["visited_at"]
    newcomer = {"id": "t-pv9", "name": "新人", "skills": ["perovskite", "thin films"], "summary": "钙钛矿 perovskite"}
    assert client.post("/talents", headers=h["recruiter"], json=newcomer).status_code == 201
    assert client.get(f"/searches/{saved['id']}", headers=h["recruiter"]).json()["new"] == ["t-pv9"]

    assert client.delete("/talents/t-pv1", headers=h["recruiter"]).status_code == 200
    with app.state.store.engine.connect() as conn:
        seen = db.SavedSearchSeenRow.__table__
        assert conn.scalar(sa.select(sa.func.count()).where(seen.c.talent_id == "t-pv1")) == 0
        assert conn.scalar(sa.select(sa.func.count()).select_from(seen)) > 0  # the others stay
    assert [s["id"] for s in client.get("/searches", headers=h["recruiter"]).json()] == [saved["id"]]  # named Li Wei

    for body, field in [
        ({"name": "", "query": "x"}, "name"),
        ({"name": "x", "query": "x", "k": 0}, "k"),
        ({"name": "x" * 201, "query": "x"}, "name"),
        ({"query": "x"}, "name"),
    ]:
        bad = client.post("/searches", headers=h["recruiter"], json=body)
        assert (bad.status_code, bad.json()["error"]["field"]) == (422, field)  # fmt: skip
    assert client.get("/searches/0", headers=h["recruiter"]).status_code == 422
    with app.state.store.engine.begin() as conn:  # saved under rules a later version no longer accepts
        rows = db.SavedSearchRow.__table__
        conn.execute(sa.update(rows).where(rows.c.id == saved["id"]).values(params={"query": "x", "k": 0}))
    stale = client.get(f"/searches/{saved['id']}", headers=h["recruiter"])
    assert (stale.status_code, stale.json()["error"]["field"]) == (409, "search")
    assert client.delete(f"/searches/{saved['id']}", headers=h["recruiter"]).status_code == 204
    assert client.get(f"/searches/{saved['id']}", headers=h["recruiter"]).status_code == 404
