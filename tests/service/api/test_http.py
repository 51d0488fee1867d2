"""The main flows over HTTP against a real uvicorn server on loopback (SQLite file, and once PostgreSQL)."""

from __future__ import annotations

import os
import time

import httpx
import orjson
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, seed, settings_for

from service import audit, db
from service.api.app import create_app
from service.keys import create_key, list_keys, revoke_key
from service.store import Store


def audit_rows(store, kind: str, object_id: str) -> list[tuple[str, str]]:
    rows, _ = audit.entries(store, object_kind=kind, object_id=object_id)
    return [(r.role, r.action) for r in rows]


def test_main_flow(db_url, world_dir, tmp_path):
    """Recruiter writes and reads talents (live indices, audit), an enterprise works on its own needs only."""
    keys = seed(db_url, world_dir)
    app = create_app(settings_for(db_url, tmp_path))
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        rec, e1 = auth(keys["recruiter"]), auth(keys["e1"])
        indices = app.state.indices
        store = app.state.store

        # A new talent is stored, audited and rankable on the next request.
        talent = {"id": "t9", "name": "赵敏", "skills": ["quantum dots", "量子点"], "tier": "C", "sites": ["jiaxing"],
                  "residence": {"country": "CN", "in_yrd": True}, "languages": ["zh"]}  # fmt: skip
        r = c.post("/talents", json=talent, headers=rec)
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "赵敏"
        ids, _ = indices.sparse.search("quantum dots", 5)
        assert list(ids) == ["t9"]
        assert "t9" in indices.talents and indices.table.rows(["t9"])[0] >= 0
        conflict = c.post("/talents", json=talent, headers=rec).json()["error"]
        assert conflict == {
            "code": "conflict",
            "message": "talent 't9' already exists; PUT it to replace it",
            "field": "id",
        }

        # Reading a full profile writes one audit row naming who.
        assert c.get("/talents/t9", headers=rec).json()["skills"] == ["quantum dots", "量子点"]
        assert audit_rows(store, "talent", "t9") == [("recruiter", "read"), ("recruiter", "create")]

        # PUT replaces (200) or creates (201); the indices follow.
        talent["skills"] = ["perovskite tandem"]
        assert c.put("/talents/t9", json=talent, headers=rec).status_code == 200
        assert "t9" not in indices.sparse.search("quantum dots", 5)[0]
        assert c.put("/talents/t10", json={"id": "t10", "summary": "fluid dynamics"}, headers=rec).status_code == 201

        # Lists filter in SQL and page with a total.
        page = c.get("/talents", params={"residence": "yrd", "limit": 1}, headers=rec).json()
        assert (page["total"], [t["id"] for t in page["items"]]) == (2, ["t1"])
        page = c.get("/talents", params={"residence": "yrd", "limit": 1, "offset": 1}, headers=rec).json()
        assert [t["id"] for t in page["items"]] == ["t9"]
        assert [t["id"] for t in c.get("/talents?site=jiaxing&language=zh", headers=rec).json()["items"]] == [
            "t4",
            "t9",
        ]
        assert [t["id"] for t in c.get("/talents?nationality=de&tier=D", headers=rec).json()["items"]] == ["t3"]
        assert [t["id"] for t in c.get("/talents?incubator=inc-1", headers=rec).json()["items"]] == ["t3"]
        assert [t["id"] for t in c.get("/talents?residence=CN", headers=rec).json()["items"]] == ["t1", "t9"]
        assert audit_rows(store, "talent", "t3")[0] == ("recruiter", "list")

        # Bulk import: all or nothing.
        before = store.count("talent")
        bad = b'{"id": "t20", "name": "ok"}\n{"id": "t21", "tier": "Z", "name": "x"}\n{"id": "t22"}\n'
        r = c.post("/talents/import", content=bad, headers=rec | {"content-type": "application/x-ndjson"})
        assert r.status_code == 422
        assert r.json()["error"]["errors"] == [
            "2: tier: Input should be 'A', 'B', 'C', 'D' or 'E' (got 'Z')",
            "3: -: a talent needs a name (name, name_zh or name_en) or a summary",
        ]
        assert store.count("talent") == before and "t20" not in indices.talents
        good = b'{"id": "t20", "name": "ok", "skills": ["lidar"]}\n{"id": "t1", "name": "Li Wei"}\n'
        r = c.post("/talents/import", content=good, headers=rec)
        doc = r.json()
        assert doc.pop("people")["linked"] is False  # no saved linkage model: never linked in full
        assert doc == {"kind": "talent", "records": 2, "inserted": 1, "updated": 1, "unchanged": 0}
        assert list(indices.sparse.search("lidar", 3)[0]) == ["t20"] and indices.talents["t1"].tier is None

        # An enterprise: its own needs (enterprise filled in), another's are 404, talents are not for it.
        r = c.post("/needs", json={"id": "n9", "title": "光伏组件工艺工程师"}, headers=e1)
        assert r.status_code == 201 and r.json()["enterprise_id"] == "e1"
        assert "n9" in indices.needs and list(indices.need_sparse.search("光伏组件工艺", 3)[0]) == ["n9"]
        assert c.get("/needs/n2", headers=e1).status_code == 404
        assert c.put("/needs/n2", json={"id": "n2", "title": "mine now"}, headers=e1).status_code == 404
        r = c.post("/needs", json={"id": "n10", "title": "x", "enterprise_id": "e2"}, headers=e1)
        assert (r.status_code, r.json()["error"]["field"]) == (403, "enterprise_id")
        assert [n["id"] for n in c.get("/needs", headers=e1).json()["items"]] == ["n1", "n9"]
        assert c.get("/talents/t1", headers=e1).status_code == 403
        r = c.put("/needs/n9", json={"id": "n9", "title": "光伏组件工艺工程师", "status": "filled"}, headers=e1)
        assert r.status_code == 200 and "n9" not in indices.need_sparse.search("光伏组件工艺", 3)[0]

        # Probes.
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
        assert ready.pop("pid") == os.getpid() and ready.pop("sync_lag_changes") >= 0  # sync: test_sync.py
        assert 0 <= ready.pop("sync_lag_seconds") < 5
        assert ready == {"status": "ready", "talents": 7, "needs": 4, "reasons": []} | {
            "model": None,  # the tests' registry is empty: the non-personalised ranking serves, and readyz says so
            "model_note": "no champion model in the registry: rankings are non-personalised (rules and text relevance)",
            "snapshot": None,  # the first start builds its indices (a restart loads them: test_snapshot_start.py)
        }
        text = c.get("/metrics").text
        assert (
            'talentmatch_http_request_duration_seconds_count{method="POST",route="/talents",status="201"} 1.0' in text
        )
        assert 'route="/talents/{talent_id}",status="200"' in text


def test_auth_errors(server, keys, app):
    """401 for a missing, malformed, unknown or revoked key; 403 for the wrong role; errors are JSON."""
    r = server.get("/talents")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert r.json()["error"]["message"] == "missing API key; send `Authorization: Bearer <key>`"
    for header in ("Basic abc", "Bearer", f"Bearer {keys['recruiter']}x", "Bearer tm_nope"):
        assert server.get("/talents", headers={"Authorization": header}).status_code == 401, header
    admin = auth(keys["admin"])
    made = server.post("/keys", json={"role": "recruiter", "label": "temp"}, headers=admin).json()
    assert made["key"].startswith("tm_") and server.get("/talents/t1", headers=auth(made["key"])).status_code == 200
    assert server.delete(f"/keys/{made['id']}", headers=admin).status_code == 204
    r = server.get("/talents/t1", headers=auth(made["key"]))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")
    listed = {k["id"]: k for k in server.get("/keys", headers=admin).json()}
    assert listed[made["id"]]["revoked_at"] is not None and "key" not in listed[made["id"]]
    r = server.post("/talents", json={"id": "t9", "name": "x"}, headers=auth(keys["data_team"]))
    assert r.status_code == 403
    assert (
        r.json()["error"]["message"] == "a key with role data_team may not do this; it needs one of: admin, recruiter"
    )


def test_a_key_revoked_by_another_process_stops_within_the_key_cache_seconds(sqlite_url, keys, tmp_path):
    """A key seen live is not read again for ``key_cache_seconds``: a revocation the CLI makes (another process, so
    the server's cache is not told) takes effect when that time is up; one through the API at once (above)."""
    app = create_app(settings_for(sqlite_url, tmp_path, key_cache_seconds=1.0))
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        with Store(sqlite_url) as store:
            secret = create_key(store, "recruiter", label="cli")
            key_id = next(k.id for k in list_keys(store) if k.label == "cli")
        assert client.get("/talents/t1", headers=auth(secret)).status_code == 200
        with Store(sqlite_url) as store:
            assert revoke_key(store, key_id)
        assert client.get("/talents/t1", headers=auth(secret)).status_code == 200  # from the cache
        time.sleep(1.1)
        assert client.get("/talents/t1", headers=auth(secret)).status_code == 401


def test_bad_input_names_the_field_and_is_never_a_500(server, keys):
    rec = auth(keys["recruiter"])
    json = {"content-type": "application/json"}
    cases = [
        ("post", "/talents", {"json": {"id": "t9", "name": "x", "residence": {"country": "CHN"}}}, 422,
         "residence.country"),
        ("post", "/talents", {"json": {"id": "t9", "name": "x", "hobby": "go"}}, 422, "hobby"),
        ("post", "/talents", {"json": {"id": "t9"}}, 422, None),
        ("post", "/talents", {"json": {"id": "a b", "name": "x"}}, 422, "id"),
        ("post", "/talents", {"json": [1, 2]}, 422, None),
        ("post", "/talents", {"content": b"{bad", "headers": json}, 422, None),
        ("post", "/talents", {"content": b'{"id": "t9"}'}, 422, None),
        ("post", "/talents", {"content": b'{"id": "\xff"}', "headers": json}, 422, None),
        ("post", "/talents/import", {"content": b'{"id": "t9", "name": "\xff"}\n'}, 422, None),
        ("put", "/talents/t1", {"json": {"id": "t2", "name": "x"}}, 422, "id"),
        ("post", "/talents", {"json": {"id": "t9", "name": "x", "incubator_id": "nope"}}, 422, "incubator_id"),
        ("post", "/needs", {"json": {"id": "n9", "title": "x", "enterprise_id": "nope"}}, 422, "enterprise_id"),
        ("get", "/talents", {"params": {"limit": 201}}, 422, "limit"),
        ("get", "/talents", {"params": {"offset": -1}}, 422, "offset"),
        ("get", "/talents", {"params": {"tier": "Z"}}, 422, "tier"),
        ("get", "/talents", {"params": {"nationality": "Germany"}}, 422, "nationality"),
        ("get", "/talents", {"params": {"residence": "Shanghai"}}, 422, "residence"),
        ("get", "/needs", {"params": {"status": "gone"}}, 422, "status"),
        ("get", "/talents/nope", {}, 404, "id"),
        ("get", "/nowhere", {}, 404, None),
        ("patch", "/talents/t1", {}, 405, None),
        ("delete", "/keys/abc", {}, 422, "key_id"),
        ("post", "/needs", {"json": {"id": "n1", "title": "taken"}}, 409, "id"),
    ]  # fmt: skip
    for method, path, kwargs, status, field in cases:
        headers = rec | kwargs.pop("headers", {})
        if path.startswith("/keys"):
            headers = auth(keys["admin"])
        r = server.request(method.upper(), path, headers=headers, **kwargs)
        assert r.status_code == status, (path, kwargs, r.text)
        error = r.json()["error"]
        assert error["field"] == field and error["message"], (path, kwargs, error)
    r = server.post("/talents", json={"id": "t9", "name": "x", "residence": {"country": "CHN"}}, headers=rec)
    assert r.json()["error"]["message"] == (
        "body residence.country: 'CHN' is not an ISO 3166 alpha-2 country code such as CN, DE or US"
    )
    assert server.get("/talents/t9", headers=rec).status_code == 404  # nothing was half-written


def test_body_cap_gives_413_and_writes_nothing(server, keys, app):
    rec = auth(keys["recruiter"])
    big = b"".join(orjson.dumps({"id": f"t-{i}", "name": "x" * 200}) + b"\n" for i in range(400))  # > 64 kB
    r = server.post("/talents/import", content=big, headers=rec)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "body_too_large")
    assert "TALENTMATCH_MAX_BODY_BYTES" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the cap applies while the body streams in
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    r = server.post("/talents/import", content=chunks(), headers=rec)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "body_too_large")
    r = server.post("/talents", content=chunks(), headers=rec | {"content-type": "application/json"})
    assert r.status_code == 413
    assert app.state.store.count("talent") == 4


def test_csv_import_and_other_kinds(server, keys, app):
    rec = auth(keys["recruiter"])
    csv = "id,name,country\ninc-2,海纳孵化器二号,GB\n"
    r = server.post("/incubators/import", content=csv.encode(), headers=rec | {"content-type": "text/csv"})
    assert r.json() == {"kind": "incubator", "records": 1, "inserted": 1, "updated": 0, "unchanged": 0}
    assert "inc-2" in app.state.indices.incubators
    assert [i["id"] for i in server.get("/incubators?country=GB", headers=rec).json()["items"]] == ["inc-2"]
    assert server.post("/platforms", json={"id": "p-new", "name": "嘉兴智慧产业创新园"}, headers=rec).status_code == 201
    r = server.post("/enterprises", json={"id": "e3", "name": "Sensorix", "platform_id": "p-new"}, headers=rec)
    assert r.status_code == 201
    assert [e["id"] for e in server.get("/enterprises?platform=p-new", headers=rec).json()["items"]] == ["e3"]
    with app.state.store.engine.connect() as conn:
        actions = conn.execute(sa.select(db.AuditRow.action, db.AuditRow.object_id).order_by(db.AuditRow.id)).all()
    assert [tuple(a) for a in actions] == [("import", "inc-2"), ("create", "p-new"), ("create", "e3")]


@pytest.mark.parametrize("kind", ["talents", "needs", "enterprises", "platforms", "incubators"])
def test_import_reports_every_bad_line(server, keys, kind, app):
    rec = auth(keys["recruiter"])
    before = app.state.store.counts()
    body = b'{"id": "x1", "unknown_field": 1}\nnot json\n\n[1]\n'
    r = server.post(f"/{kind}/import", content=body, headers=rec)
    assert r.status_code == 422
    errors = r.json()["error"]["errors"]
    assert sorted({e.split(":")[0] for e in errors}) == ["1", "2", "4"], errors
    assert any(e.startswith("1: unknown_field: unknown field") for e in errors)
    errors = [e for e in errors if not e.startswith("1:")]
    assert errors[0].startswith("2: -: invalid JSON at column 1:") and "one complete JSON object" in errors[0]
    assert app.state.store.counts() == before
    r = server.post(f"/{kind}/import", content=b"", headers=rec)
    assert r.json()["error"]["errors"] == ["1: -: empty file: no records; expected one JSON object per line"]
