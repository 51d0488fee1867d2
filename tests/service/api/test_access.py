"""The role × tenant matrix over every route: who may do what, and enterprise A sees enterprise B's objects as 404.

One real server for the module: the writes below are upserts of unchanged records or creations with an id
per role, so the cases do not depend on their order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, seed, settings_for, write_small_world

from service import db
from service.alerts import subscriptions
from service.api.app import create_app
from service.keys import create_key, list_keys

ROLES = ("recruiter", "data_team", "admin", "e1")
OFFICE_WRITE = {"recruiter": 2, "data_team": 403, "admin": 2, "e1": 403}  # 2 = the route's success status
READ_ALL = {"recruiter": 2, "data_team": 2, "admin": 2, "e1": 2}
PROFILES = {"recruiter": 2, "data_team": 2, "admin": 2, "e1": 403}
OTHER_TENANT = {"recruiter": 2, "data_team": 2, "admin": 2, "e1": 404}
OWN_NEED_WRITE = {"recruiter": 2, "data_team": 403, "admin": 2, "e1": 2}
OTHER_NEED_WRITE = {"recruiter": 2, "data_team": 403, "admin": 2, "e1": 404}
ADMIN_ONLY = {"recruiter": 403, "data_team": 403, "admin": 2, "e1": 403}
RANK_OWN = {"recruiter": 2, "data_team": 403, "admin": 2, "e1": 2}
RANK_OTHER = {"recruiter": 2, "data_team": 403, "admin": 2, "e1": 404}
DATA_TEAM = {"recruiter": 403, "data_team": 2, "admin": 2, "e1": 403}
ENTERPRISE_ONLY = {"recruiter": 403, "data_team": 403, "admin": 403, "e1": 2}
OTHER_ENTERPRISE = {"recruiter": 403, "data_team": 403, "admin": 403, "e1": 404}

N1 = {"id": "n1", "title": "钙钛矿电池研发负责人", "enterprise_id": "e1", "kind": "special_researcher",
      "months_per_year": 3, "min_tier": "C", "required_skills": ["perovskite", "thin films"]}  # fmt: skip
N2 = {"id": "n2", "title": "IC design lead", "description": "RISC-V SoC", "enterprise_id": "e2"}
E1 = {"id": "e1", "name": "嘉光新能源", "platform_id": "p-xiu", "industries": ["photovoltaics"]}
E2 = {"id": "e2", "name": "Acme Chips"}
T2 = {"id": "t2", "summary": "RISC-V processor architect, 12 years at a fab"}
P1 = {"id": "p-xiu", "name": "秀洲国家高新区"}
I1 = {"id": "inc-1", "name": "海纳孵化器一号", "country": "DE", "city": "Synthburg", "city_synthetic": True}


def jsonl(*records: dict) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


# (method, path, body: dict | bytes | callable(role) -> dict, success status, expected by role)
CASES = [
    ("GET", "/talents", None, 200, PROFILES),
    ("GET", "/talents/t1", None, 200, PROFILES),
    ("POST", "/talents", lambda role: {"id": f"t-{role}", "name": "新人"}, 201, OFFICE_WRITE),
    ("PUT", "/talents/t2", T2, 200, OFFICE_WRITE),
    ("POST", "/talents/import", jsonl(T2), 200, OFFICE_WRITE),
    ("GET", "/needs", None, 200, READ_ALL),
    ("GET", "/needs/n1", None, 200, READ_ALL),
    ("GET", "/needs/n2", None, 200, OTHER_TENANT),
    ("GET", "/needs/n3", None, 200, OTHER_TENANT),
    ("POST", "/needs", lambda role: {"id": f"n-{role}", "title": "岗位", "enterprise_id": "e1"}, 201, OWN_NEED_WRITE),
    ("POST", "/needs", lambda role: {"id": f"n2-{role}", "title": "post", "enterprise_id": "e2"}, 201,
     {**OWN_NEED_WRITE, "e1": 403}),
    ("PUT", "/needs/n1", N1, 200, OWN_NEED_WRITE),
    ("PUT", "/needs/n2", N2, 200, OTHER_NEED_WRITE),
    ("POST", "/needs/import", jsonl(N1), 200, OFFICE_WRITE),
    ("GET", "/enterprises", None, 200, READ_ALL),
    ("GET", "/enterprises/e1", None, 200, READ_ALL),
    ("GET", "/enterprises/e2", None, 200, OTHER_TENANT),
    ("POST", "/enterprises", lambda role: {"id": f"e-{role}", "name": "企业"}, 201, OFFICE_WRITE),
    ("PUT", "/enterprises/e1", E1, 200, OWN_NEED_WRITE),
    ("PUT", "/enterprises/e2", E2, 200, OTHER_NEED_WRITE),
    ("POST", "/enterprises/import", jsonl(E2), 200, OFFICE_WRITE),
    ("GET", "/platforms", None, 200, READ_ALL),
    ("GET", "/platforms/p-xiu", None, 200, READ_ALL),
    ("POST", "/platforms", lambda role: {"id": f"p-{role}", "name": "平台"}, 201, OFFICE_WRITE),
    ("PUT", "/platforms/p-xiu", P1, 200, OFFICE_WRITE),
    ("POST", "/platforms/import", jsonl(P1), 200, OFFICE_WRITE),
    ("GET", "/incubators", None, 200, READ_ALL),
    ("GET", "/incubators/inc-1", None, 200, READ_ALL),
    ("POST", "/incubators", lambda role: {"id": f"inc-{role}", "name": "孵化器"}, 201, OFFICE_WRITE),
    ("PUT", "/incubators/inc-1", I1, 200, OFFICE_WRITE),
    ("POST", "/incubators/import", jsonl(I1), 200, OFFICE_WRITE),
    ("POST", "/keys", {"role": "recruiter", "label": "matrix"}, 201, ADMIN_ONLY),
    ("GET", "/keys", None, 200, ADMIN_ONLY),
    ("DELETE", "/keys/{e2_key}", None, 204, ADMIN_ONLY),
    ("GET", "/audit", None, 200, ADMIN_ONLY),
    ("GET", "/needs/n1/candidates", None, 200, RANK_OWN),
    ("GET", "/needs/n2/candidates", None, 200, RANK_OTHER),
    ("POST", "/search", {"query": "perovskite 钙钛矿"}, 200, OFFICE_WRITE),
    ("GET", "/talents/t1/needs", None, 200, OFFICE_WRITE),
    ("POST", "/feedback", {"need_id": "n1", "talent_id": "{t_n1}", "action": "shortlist", "ranking_id": "{r_n1}"},
     201, RANK_OWN),
    ("POST", "/feedback", {"need_id": "n2", "talent_id": "{t_n2}", "action": "contact", "ranking_id": "{r_n2}"},
     201, RANK_OTHER),
    ("GET", "/rankings/{r_n1}", None, 200, READ_ALL),
    ("GET", "/rankings/{r_n2}", None, 200, OTHER_TENANT),
    ("GET", "/models", None, 200, DATA_TEAM),
    ("POST", "/models/reload", None, 200, DATA_TEAM),
    ("DELETE", "/talents/t-erase-{role}", None, 200, OFFICE_WRITE),
    ("POST", "/subscriptions", {"need_id": "n1", "channel": "inbox", "top_n": 3}, 201, ENTERPRISE_ONLY),
    ("GET", "/subscriptions", None, 200, ENTERPRISE_ONLY),
    ("GET", "/subscriptions/{e2_sub}", None, 200, OTHER_ENTERPRISE),
    ("DELETE", "/subscriptions/{e2_sub}", None, 204, OTHER_ENTERPRISE),
    ("GET", "/alerts", None, 200, ENTERPRISE_ONLY),
    ("POST", "/alerts/{e2_alert}/read", None, 200, OTHER_ENTERPRISE),
]  # fmt: skip


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Iterator[tuple[httpx.Client, dict[str, str], dict[str, int | str]]]:
    tmp = tmp_path_factory.mktemp("matrix")
    url = f"sqlite:///{tmp / 'api.db'}"
    keys = seed(url, write_small_world(tmp / "world"))
    app = create_app(settings_for(url, tmp))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALENTMATCH_MODELS_DIR", str(tmp / "models"))  # an empty registry for /models
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield from _serve(app, keys)


def _serve(app, keys: dict[str, str]) -> Iterator[tuple[httpx.Client, dict[str, str], dict[str, int | str]]]:
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        ids = {k.enterprise_id: k.id for k in list_keys(app.state.store) if k.enterprise_id}
        keys["e2-spare"] = create_key(app.state.store, "enterprise", "e2")  # the matrix revokes the first e2 key
        found: dict[str, int | str] = {"e2_key": ids["e2"]}
        for need in ("n1", "n2"):  # rankings to send feedback on and read receipts of
            ranked = client.get(f"/needs/{need}/candidates", headers=auth(keys["recruiter"])).json()
            found |= {f"r_{need}": ranked["ranking_id"], f"t_{need}": ranked["candidates"][0]["talent_id"]}
        for role in ROLES:  # one talent per role to erase
            r = client.put(
                f"/talents/t-erase-{role}", json={"id": f"t-erase-{role}", "name": "待删"}, headers=auth(keys["admin"])
            )
            assert r.status_code == 201, r.text
        found |= _alert_objects(app.state.store)
        yield client, keys, found


def _alert_objects(store) -> dict[str, int]:
    """Enterprise e2's subscription and one alert, for the alerts routes (e1 must get 404 for both)."""
    sub = subscriptions.create(store, enterprise_id="e2", need_id="n2", channel="inbox", top_n=3)
    a = db.AlertRow.__table__
    payload = {"need": {"id": "n2", "title": "IC design lead"}, "talent": {"id": "t2", "masked": True, "name": "x",
               "availability": {}}, "reasons": []}  # fmt: skip
    with store.engine.begin() as conn:
        alert_id = conn.execute(sa.insert(a).values(
            subscription_id=sub.id, enterprise_id="e2", need_id="n2", talent_id="t2", score=0.5, reason="top_n",
            created_at=datetime.now(UTC), status="inbox", idempotency_key="alert-matrix", masked=True,
            payload=payload).returning(a.c.id)).scalar_one()  # fmt: skip
    return {"e2_sub": sub.id, "e2_alert": alert_id}


def _send(client: httpx.Client, method: str, path: str, body, role: str, key: str | None, ids: dict):
    kwargs = {}
    if callable(body):
        body = body(role)
    if isinstance(body, dict):  # "{r_n1}" and the like: ids made by the fixture
        body = {k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    return client.request(method, path, headers=auth(key) if key else {}, **kwargs)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "ok", "expected"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_role_matrix(matrix, method, path, body, ok, expected, role):
    client, keys, ids = matrix
    r = _send(client, method, path.format(**ids, role=role), body, role, keys[role], ids)
    want = ok if expected[role] == 2 else expected[role]
    assert r.status_code == want, r.text
    if want >= 400:
        assert r.json()["error"]["code"] == {403: "forbidden", 404: "not_found"}[want]


@pytest.mark.parametrize(("method", "path", "body"), [c[:3] for c in CASES], ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_every_route_needs_a_key(matrix, method, path, body):
    client, _, ids = matrix
    r = _send(client, method, path.format(**ids, role="nobody"), body, "nobody", None, ids)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_need_no_key(matrix, path):
    assert matrix[0].get(path).status_code == 200


def test_enterprise_lists_hold_only_its_own(matrix):
    client, keys, _ = matrix
    e1, e2 = auth(keys["e1"]), auth(keys["e2-spare"])
    assert {n["enterprise_id"] for n in client.get("/needs?limit=200", headers=e1).json()["items"]} == {"e1"}
    assert client.get("/needs?enterprise=e2", headers=e1).json()["total"] == 0
    assert [e["id"] for e in client.get("/enterprises", headers=e1).json()["items"]] == ["e1"]
    assert client.get("/needs/n1", headers=e2).status_code == 404  # and the other way round
    assert client.get("/enterprises/e1", headers=e2).status_code == 404
