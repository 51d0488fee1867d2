"""Bad input is a 422 naming the field, never a 500 and never half written, on SQLite and on PostgreSQL: numbers past
their column or SQL range, strings past their column, NUL bytes and lone surrogates, NaN and infinity, dates whose
UTC conversion overflows. Error bodies show no exception text or database host; another tenant's objects answer
exactly like missing ones; the engine keeps statement parameters out of logs and exceptions."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, seed, settings_for, write_small_world

from service import db
from service.alerts import subscriptions
from service.alerts.sealing import MAX_SECRET
from service.api.app import create_app
from service.api.limits import ALERT_ID_MAX, ID_MAX, OFFSET_MAX, SUBSCRIPTION_ID_MAX, URL_MAX
from service.store import Store

HUGE = 10**20


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request, tmp_path_factory) -> Iterator[tuple[httpx.Client, dict[str, dict[str, str]], dict[str, int]]]:
    """One server per database for the module: the small world, a key per role, e2's subscription and alert."""
    tmp = tmp_path_factory.mktemp("limits")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'api.db'}"
    else:
        import psycopg

        base = request.getfixturevalue("postgres_database")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{base}?options=-csearch_path%3D{schema}"
    keys = seed(url, write_small_world(tmp / "world"))
    app = create_app(settings_for(url, tmp))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALENTMATCH_MODELS_DIR", str(tmp / "models"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        with run_server(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
            store = app.state.store
            sub = subscriptions.create(store, enterprise_id="e2", need_id="n2", channel="inbox", top_n=3)
            a = db.AlertRow.__table__
            with store.engine.begin() as conn:
                alert = conn.execute(sa.insert(a).values(
                    subscription_id=sub.id, enterprise_id="e2", need_id="n2", talent_id="t2", score=0.5,
                    reason="top_n", created_at=sa.func.now(), status="inbox", idempotency_key="alert-limits",
                    masked=True, payload={"need": {"id": "n2", "title": "x"}, "talent": {"id": "t2", "masked": True,
                    "name": "x", "availability": {}}, "reasons": []}).returning(a.c.id)).scalar_one()  # fmt: skip
            yield client, {k: auth(v) for k, v in keys.items()}, {"sub": sub.id, "alert": alert}


def invalid(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, (r.status_code, r.text)
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field), error


def test_numbers_past_their_column_or_sql_range_are_422(api):
    c, h, _ = api
    invalid(c.get(f"/subscriptions/{HUGE}", headers=h["e1"]), "sub_id")
    invalid(c.get(f"/subscriptions/{SUBSCRIPTION_ID_MAX + 1}", headers=h["e1"]), "sub_id")
    assert c.get(f"/subscriptions/{SUBSCRIPTION_ID_MAX}", headers=h["e1"]).status_code == 404
    invalid(c.post(f"/alerts/{HUGE}/read", headers=h["e1"]), "alert_id")
    assert c.post(f"/alerts/{ALERT_ID_MAX}/read", headers=h["e1"]).status_code == 404
    invalid(c.delete(f"/keys/{HUGE}", headers=h["admin"]), "key_id")
    invalid(c.get("/audit", params={"key_id": HUGE}, headers=h["admin"]), "key_id")
    for route in ("/talents", "/needs", "/enterprises", "/platforms", "/incubators", "/audit", "/alerts"):
        key = h["e1"] if route == "/alerts" else h["admin"]
        invalid(c.get(route, params={"offset": HUGE}, headers=key), "offset")
        invalid(c.get(route, params={"offset": OFFSET_MAX + 1}, headers=key), "offset")
        r = c.get(route, params={"offset": OFFSET_MAX}, headers=key)
        assert r.status_code == 200 and r.json()["items"] == [], r.text
    invalid(c.get("/needs/n1/candidates", params={"offset": HUGE}, headers=h["recruiter"]), "offset")
    talent = {"id": "t-count", "name": "x", "publication_count": HUGE}
    invalid(c.post("/talents", json=talent, headers=h["recruiter"]), "publication_count")
    assert c.get("/talents/t-count", headers=h["recruiter"]).status_code == 404


def test_unknown_query_parameters_are_422(api):
    c, h, _ = api
    invalid(c.get("/talents", params={"teir": "A"}, headers=h["recruiter"]), "teir")  # a misspelt filter
    invalid(c.get("/needs/n1/candidates", params={"k": 5, "ofset": 20}, headers=h["recruiter"]), "ofset")
    invalid(c.get("/healthz", params={"x": "1"}), "x")
    assert c.get("/talents", params={"tier": "A", "limit": 5}, headers=h["recruiter"]).status_code == 200


def test_nan_and_infinity_are_refused(api):
    c, h, _ = api
    for value in ("NaN", "Infinity", "-Infinity"):
        body = f'{{"id": "t-inf", "name": "x", "salary_expectation": {value}}}'
        invalid(c.post("/talents", content=body, headers=h["recruiter"] | {"content-type": "application/json"}),
                "salary_expectation")  # fmt: skip
        body = f'{{"channel": "inbox", "min_score": {value}}}'
        invalid(c.post("/subscriptions", content=body, headers=h["e1"] | {"content-type": "application/json"}),
                "min_score")  # fmt: skip
    assert c.get("/talents/t-inf", headers=h["recruiter"]).status_code == 404


def test_strings_fit_their_columns(api):
    c, h, _ = api
    long_id = "x" * (ID_MAX + 1)
    invalid(c.get(f"/needs/{long_id}", headers=h["recruiter"]), "need_id")
    invalid(c.put(f"/talents/{long_id}", json={"id": long_id, "name": "x"}, headers=h["recruiter"]), "talent_id")
    invalid(c.post("/talents", json={"id": long_id, "name": "x"}, headers=h["recruiter"]), "id")
    invalid(c.get(f"/rankings/{'r' * 33}", headers=h["recruiter"]), "ranking_id")
    url = "https://hooks.example.com/" + "a" * URL_MAX
    hook = {"channel": "webhook", "url": url, "secret": "s" * 32, "top_n": 3}
    invalid(c.post("/subscriptions", json=hook, headers=h["e1"]), "url")
    invalid(c.post("/subscriptions", json=hook | {"url": "https://hooks.example.com/", "secret": "s" * 201},
                   headers=h["e1"]), "secret")  # fmt: skip
    invalid(c.post("/subscriptions", json={"channel": "email", "email": "a" * 320 + "@example.com", "top_n": 3},
                   headers=h["e1"]), "email")  # fmt: skip
    invalid(c.post("/keys", json={"role": "recruiter", "label": "l" * 201}, headers=h["admin"]), "label")
    invalid(c.post("/keys", json={"role": "enterprise", "enterprise_id": long_id}, headers=h["admin"]),
            "enterprise_id")  # fmt: skip
    invalid(c.get("/audit", params={"object_kind": "k" * 33}, headers=h["admin"]), "object_kind")
    invalid(c.get("/audit", params={"object_id": long_id}, headers=h["admin"]), "object_id")
    invalid(c.post("/feedback", json={"need_id": "n1", "talent_id": "t1", "action": "contact",
                                      "ranking_id": "r" * 33}, headers=h["recruiter"]), "ranking_id")  # fmt: skip


def test_nul_bytes_and_lone_surrogates_are_422_naming_the_field(api):
    c, h, _ = api
    json_headers = h["recruiter"] | {"content-type": "application/json"}
    for text in ("a\\u0000b", "a\\ud800b", "\\udfff"):
        invalid(c.post("/talents", content=f'{{"id": "t-nul", "name": "{text}"}}', headers=json_headers), "name")
        body = f'{{"id": "t-nul", "name": "x", "residence": {{"city": "{text}"}}}}'
        invalid(c.post("/talents", content=body, headers=json_headers), "residence.city")
        invalid(c.post("/search", content=f'{{"query": "{text}"}}', headers=json_headers), "query")
        body = f'{{"channel": "email", "email": "a{text}@example.com", "top_n": 3}}'
        invalid(c.post("/subscriptions", content=body, headers=h["e1"] | {"content-type": "application/json"}),
                "email")  # fmt: skip
    assert c.get("/talents/t-nul", headers=h["recruiter"]).status_code == 404
    invalid(c.get("/talents/t%00x", headers=h["recruiter"]), "talent_id")
    invalid(c.get("/talents", params={"incubator": "inc\x00"}, headers=h["recruiter"]), "incubator")
    invalid(c.get("/audit", params={"object_id": "t1\x00"}, headers=h["admin"]), "object_id")
    invalid(c.get("/audit", params={"object_kind": "talent\x00"}, headers=h["admin"]), "object_kind")
    # a lone surrogate in a field *name*: still a 422 with a body that encodes
    r = c.post("/talents", content='{"id": "t-s", "name": "x", "\\ud800": 1}', headers=json_headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
    # imports name the line and field, and write nothing
    lines = b'{"id": "t-ok", "name": "fine"}\n{"id": "t-bad", "name": "a\\u0000b"}\n'
    r = c.post("/talents/import", content=lines, headers=h["recruiter"] | {"content-type": "application/x-ndjson"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name" and "2: name:" in r.text, r.text
    assert c.get("/talents/t-ok", headers=h["recruiter"]).status_code == 404


def test_dates_out_of_range_are_422(api):
    c, h, _ = api
    for when in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"):
        invalid(c.post("/talents", json={"id": "t-date", "name": "x", "updated_at": when}, headers=h["recruiter"]),
                "updated_at")  # fmt: skip
        need = {"id": "n-date", "title": "x", "created_at": when}
        invalid(c.post("/needs", json=need, headers=h["recruiter"]), "created_at")


def test_another_tenants_objects_answer_like_missing_ones(api):
    """e1 asking for e2's need, subscription or alert gets the body a nonexistent id gets (its own id echoed)."""
    c, h, ids = api

    def same(theirs: httpx.Response, missing: httpx.Response, their_id, missing_id) -> None:
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == orjson_replace(missing.json(), str(missing_id), str(their_id))

    same(c.get("/needs/n2", headers=h["e1"]), c.get("/needs/n-none", headers=h["e1"]), "n2", "n-none")
    same(c.get("/needs/n2/candidates", headers=h["e1"]), c.get("/needs/n-none/candidates", headers=h["e1"]),
         "n2", "n-none")  # fmt: skip
    same(c.get(f"/subscriptions/{ids['sub']}", headers=h["e1"]), c.get("/subscriptions/999999", headers=h["e1"]),
         ids["sub"], 999999)  # fmt: skip
    same(c.post(f"/alerts/{ids['alert']}/read", headers=h["e1"]), c.post("/alerts/999999/read", headers=h["e1"]),
         ids["alert"], 999999)  # fmt: skip
    sub = {"need_id": "n2", "channel": "inbox", "top_n": 3}
    same(c.post("/subscriptions", json=sub, headers=h["e1"]),
         c.post("/subscriptions", json=sub | {"need_id": "n-none"}, headers=h["e1"]), "n2", "n-none")  # fmt: skip
    # feedback on e1's own need naming e2's ranking, or a talent never shown: nothing about them leaks
    e1_ranking = c.get("/needs/n1/candidates", headers=h["e1"]).json()["ranking_id"]
    e2_ranking = c.get("/needs/n2/candidates", headers=h["e2"]).json()["ranking_id"]
    fb = {"need_id": "n1", "talent_id": "t1", "action": "contact"}
    same(c.post("/feedback", json=fb | {"ranking_id": e2_ranking}, headers=h["e1"]),
         c.post("/feedback", json=fb | {"ranking_id": "r-none"}, headers=h["e1"]), e2_ranking, "r-none")  # fmt: skip
    # ids are one namespace: a taken id is a 409, naming only what the caller sent, never the owner
    taken = c.post("/needs", json={"id": "n2", "title": "x"}, headers=h["e1"])
    assert taken.status_code == 409 and "e2" not in taken.text and "Acme" not in taken.text, taken.text
    unknown = c.post("/feedback", json=fb | {"ranking_id": e1_ranking, "talent_id": "t-ghost"}, headers=h["e1"])
    assert unknown.status_code == 422 and "n2" not in unknown.text and unknown.json()["error"]["field"] == "talent_id"


def orjson_replace(doc: dict, old: str, new: str) -> dict:
    import orjson

    return orjson.loads(orjson.dumps(doc).decode().replace(old, new))


def test_openapi_states_the_enforced_bounds(api):
    c, _, _ = api
    spec = c.get("/openapi.json").json()

    def param(path: str, method: str, name: str) -> dict:
        [p] = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == name]
        return p["schema"] if "anyOf" not in p["schema"] else p["schema"]["anyOf"][0]

    assert param("/subscriptions/{sub_id}", "get", "sub_id")["maximum"] == SUBSCRIPTION_ID_MAX
    assert param("/talents", "get", "offset")["maximum"] == OFFSET_MAX
    assert param("/needs/{need_id}", "get", "need_id")["maxLength"] == ID_MAX
    body = spec["components"]["schemas"]["SubscriptionCreate"]["properties"]
    assert body["url"]["anyOf"][0]["maxLength"] == URL_MAX and body["secret"]["anyOf"][0]["maxLength"] == MAX_SECRET


def test_database_errors_show_no_host_or_exception_text(api, tmp_path):
    """/readyz and a route's 503, with the store unreachable: nothing of the driver's message, the host or the URL
    reaches the (anonymous) caller; the log has it."""
    from fastapi.testclient import TestClient

    _, h, _ = api
    down = create_app(settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path))
    down.state.store = Store("postgresql+psycopg://secretuser:pw@127.0.0.1:1/secretdb?connect_timeout=2")
    down.state.stale = "indexing talent 't9' failed after it was stored: EncoderCrash at /srv/models/usem3"
    client = TestClient(down, raise_server_exceptions=False)  # no lifespan: the store stays the unreachable one
    try:
        for r in (client.get("/readyz"), client.get("/talents", headers=h["recruiter"])):
            assert r.status_code == 503, r.text
            for secret in ("127.0.0.1", "secretuser", "secretdb", "refused", "psycopg", "port", "EncoderCrash", "/srv"):
                assert secret not in r.text, (secret, r.text)
    finally:
        down.state.store.close()


def test_engine_hides_statement_parameters(db_url, caplog):
    """A failing statement's exception and the engine's log carry no parameter values (personal data)."""
    store = Store(db_url)
    db.upgrade(store.engine)
    t = db.ApiKeyRow.__table__
    row = {"hash": "h" * 64, "role": "recruiter", "label": "李伟 li.wei@example.org", "created_at": sa.func.now()}
    with store.engine.begin() as conn:
        conn.execute(sa.insert(t).values(**row))
    store.engine.echo = True
    with (
        caplog.at_level(logging.INFO, logger="sqlalchemy.engine"),
        pytest.raises(sa.exc.IntegrityError) as e,
        store.engine.begin() as conn,
    ):
        conn.execute(sa.insert(t).values(**row))
    store.close()
    assert "li.wei@example.org" not in str(e.value) and "hide_parameters" in str(e.value)
    assert caplog.records and "li.wei@example.org" not in caplog.text
