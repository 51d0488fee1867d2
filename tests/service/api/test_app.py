"""Start-up (no silent migrations), readiness, keys, cards, the audit route and the OpenAPI document."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest
import sqlalchemy as sa
from api_helpers import auth, settings_for

from features.records import RECORD_TYPES, Talent
from service import db
from service.api.app import MALLOC_ARENAS, create_app
from service.api.cards import reveals_identity, talent_card
from service.api.routes import ROUTERS
from service.api.schemas import MASKED_NAME, RECORD_EXAMPLES
from service.api.server import serve
from service.keys import Principal, Role, authenticate, create_key, hash_key, list_keys, revoke_key
from service.store import Store, StoreError


def start(app) -> None:
    """Run the app's lifespan start-up and shut-down, as a server would."""

    async def cycle() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(cycle())


def test_start_up_refuses_a_database_without_the_schema_and_creates_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(RuntimeError, match=r"has no talentmatch tables; run `talentmatch db upgrade`"):
        start(create_app(settings_for(url, tmp_path)))
    assert not (tmp_path / "fresh.db").exists()
    with pytest.raises(StoreError, match="run `talentmatch db upgrade`"):
        serve(settings=settings_for(url, tmp_path))


def test_start_up_refuses_an_old_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with Store(url) as store:
        db.upgrade(store.engine, "0001")
    with pytest.raises(
        RuntimeError, match=rf"at schema revision 0001, the code expects {db.HEAD_REVISION}; run `talentmatch db"
    ):
        start(create_app(settings_for(url, tmp_path)))
    with Store(url) as store:
        assert store.revision() == "0001"


def test_start_up_bounds_the_graph_memo_by_the_setting(sqlite_url, keys, tmp_path, monkeypatch):
    """``graph_memo_bytes`` bounds every graph of the process (at 1M talents the default holds ~8 needs' results)."""
    from features import graph

    monkeypatch.setattr(graph, "MEMO_BYTES", graph.MEMO_BYTES)  # restored after the test
    start(create_app(settings_for(sqlite_url, tmp_path, graph_memo_bytes=3 << 20)))
    assert graph.MEMO_BYTES == 3 << 20
    with pytest.raises(ValueError, match="graph_memo_bytes"):
        settings_for(sqlite_url, tmp_path, graph_memo_bytes=1000)


@pytest.mark.slow  # a fresh interpreter imports the whole stack: ~3–7 s
def test_serve_runs_uvicorn_with_the_app(sqlite_url, keys, tmp_path):
    """``serve`` in its own process, configured from the environment like ``talentmatch serve``."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"TALENTMATCH_DATABASE_URL": sqlite_url, "TALENTMATCH_ENCODER": "none",
                        "TALENTMATCH_VECTOR_CACHE_DIR": str(tmp_path / "v"), "TALENTMATCH_PORT": str(port)}  # fmt: skip
    code = "from service.api.server import serve; serve(log_level='warning')"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz")
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve() did not come up"
                time.sleep(0.1)
        assert r.json()["status"] == "ready"
        assert httpx.get(f"http://127.0.0.1:{port}/talents/t1", headers=auth(keys["recruiter"])).json()["id"] == "t1"
    finally:
        proc.terminate()
        proc.wait(10)


def test_readyz_reports_an_unreachable_store_and_stale_indices(server, app, keys, monkeypatch):
    assert server.get("/readyz").status_code == 200

    def broken_encoder(_talent):
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(app.state.indices, "add_talent", broken_encoder)  # fault injection: a failing encoder
    r = server.post("/talents", json={"id": "t9", "name": "x"}, headers=auth(keys["recruiter"]))
    assert (r.status_code, r.json()["error"]["code"]) == (503, "unavailable")
    assert "the record is stored" in r.json()["error"]["message"] and app.state.store.get("talent", "t9")
    body = server.get("/readyz")
    assert body.status_code == 503 and "restart the service" in body.json()["reasons"][0]

    app.state.stale = None
    real = app.state.store
    app.state.store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    try:
        body = server.get("/readyz")
        assert body.status_code == 503 and body.json()["reasons"][0].startswith("store unreachable")
        r = server.get("/talents", headers=auth(keys["recruiter"]))
        assert (r.status_code, r.json()["error"]["code"]) == (503, "unavailable")
    finally:
        app.state.store.close()
        app.state.store = real


def test_keys_store_only_a_hash(tmp_path, world_dir):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    with Store(url) as store:
        assert store.import_path(world_dir).ok
        secret = create_key(store, "enterprise", "e1", label="HR")
        assert secret.startswith("tm_") and len(secret) > 40
        with store.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(sa.select(db.ApiKeyRow.__table__))]
        assert len(rows) == 1 and all(secret not in str(v) for v in rows[0]) and hash_key(secret) in rows[0]
        assert authenticate(store, secret) == Principal(1, Role.enterprise, "e1", "HR")
        assert authenticate(store, secret + "x") is None and authenticate(store, "Bearer " + secret) is None
        for args, message in [
            (("enterprise",), "needs the enterprise"),
            (("enterprise", "nope"), "unknown enterprise 'nope'"),
            (("recruiter", "e1"), "only enterprise keys belong to an enterprise"),
            (("boss",), "unknown role 'boss'; use one of recruiter, enterprise, data_team, admin"),
        ]:
            with pytest.raises(StoreError, match=message):
                create_key(store, *args)
        assert revoke_key(store, 1) and revoke_key(store, 1) and not revoke_key(store, 99)
        assert authenticate(store, secret) is None and list_keys(store)[0].revoked_at is not None


def test_key_route_errors(server, keys):
    admin = auth(keys["admin"])
    r = server.post("/keys", json={"role": "enterprise", "enterprise_id": "nope"}, headers=admin)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "enterprise_id")
    r = server.post("/keys", json={"role": "boss"}, headers=admin)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "role")
    assert server.delete("/keys/999", headers=admin).status_code == 404


def test_audit_route_shows_who_read_a_profile(server, keys):
    server.get("/talents/t1", headers=auth(keys["data_team"]))
    page = server.get("/audit", params={"object_kind": "talent", "object_id": "t1"}, headers=auth(keys["admin"]))
    [entry] = page.json()["items"]
    assert (entry["role"], entry["action"], entry["key_id"]) == ("data_team", "read", 2)


def test_cards_mask_without_sharing_consent():
    shared = Talent(id="t1", name="李伟", email="li@example.org", tier="B", skills=["perovskite"],
                    residence={"country": "CN", "in_yrd": True}, consent={"sharing": True})  # fmt: skip
    private = shared.model_copy(update={"id": "t2", "consent": shared.consent.model_copy(update={"sharing": False})})
    card = talent_card(private, reveal=False)
    assert (card.masked, card.name, card.email, card.phone, card.name_en) == (True, MASKED_NAME, None, None, None)
    assert (card.tier, card.skills, card.residence_country, card.in_yrd) == ("B", ["perovskite"], "CN", True)
    assert card.availability.mode is None  # not stated: the card does not claim full time
    assert (talent_card(shared, reveal=False).name, talent_card(shared, reveal=False).email) == (
        "李伟",
        "li@example.org",
    )
    assert talent_card(private, reveal=True).masked is False
    assert reveals_identity(Principal(1, Role.recruiter)) and not reveals_identity(Principal(2, Role.enterprise, "e1"))


def test_openapi_documents_routes_with_bilingual_examples(app):
    spec = app.openapi()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for kind, plural in [("talent", "talents"), ("need", "needs"), ("enterprise", "enterprises"),
                         ("platform", "platforms"), ("incubator", "incubators")]:  # fmt: skip
        examples = spec["paths"][f"/{plural}"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        assert set(examples) == {"zh", "en"}
        for example in RECORD_EXAMPLES[kind].values():
            RECORD_TYPES[kind].model_validate(example["value"])  # the documented examples are valid records
        assert "application/x-ndjson" in spec["paths"][f"/{plural}/import"]["post"]["requestBody"]["content"]
        assert "ErrorResponse" in str(spec["paths"][f"/{plural}/{{{kind}_id}}"]["get"]["responses"]["404"])


def test_create_app_does_no_work_before_start_up(tmp_path):
    """The factory opens nothing (the lifespan does): an unreachable database is fine until the server starts."""
    app = create_app(settings_for("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path))
    assert app.state.store is None and app.state.indices is None
    with pytest.raises(RuntimeError, match=r"talentmatch cannot start: database postgresql\+psycopg://nobody@"):
        start(app)


_ARENAS = """
import ctypes, sys, threading
if sys.argv[1] == "capped":
    from service.api.app import cap_malloc_arenas
    cap_malloc_arenas()
start, held = threading.Barrier(8), []
def work():
    start.wait()  # all at once: each thread's first allocation picks an arena
    held.append([bytes(4000) for _ in range(100)])
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena n:" block per arena, on stderr
"""


@pytest.mark.parametrize("mode", ["capped", "default"])
def test_a_serving_process_caps_its_malloc_arenas(mode):
    """Request threads each got a glibc arena of their own (up to 8 a core), holding freed memory apart: the app
    caps them at ``MALLOC_ARENAS`` before its threads start (the uncapped run shows the test can tell)."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", _ARENAS, mode], capture_output=True, text=True, env=env, check=True)
    arenas = done.stderr.count("Arena ")
    if mode == "capped":
        assert 1 <= arenas <= MALLOC_ARENAS
    else:
        assert arenas > MALLOC_ARENAS


def test_no_two_routers_answer_the_same_request_so_their_order_changes_no_dispatch():
    # ROUTERS is ordered for speed (the ranking router right after health): that is safe only while no concrete path
    # and method can match routes of two routers (within one, its own order decides: /people/review before
    # /people/{person_id}). Each pair is probed with one template's path, its parameters filled with the other's
    # literal segments where there are some
    routes = [(n, r.path, r.methods or set(), r.path_regex)
              for n, router in enumerate(ROUTERS) for r in router.routes if hasattr(r, "path_regex")]  # fmt: skip

    def probes(path: str, other: str) -> list[str]:
        segments, theirs = path.split("/"), other.split("/")
        filled = [t if s.startswith("{") and t and not t.startswith("{") else s
                  for s, t in zip(segments, theirs + [""] * len(segments), strict=False)]  # fmt: skip
        return ["/".join(s if not s.startswith("{") else "x" for s in ps) for ps in (segments, filled)]

    def clash(a: tuple, b: tuple) -> bool:
        return bool(a[2] & b[2]) and any(
            a[3].match(p) and b[3].match(p) for p in probes(a[1], b[1]) + probes(b[1], a[1])
        )

    assert any(
        clash(a, b) for a in routes for b in routes if a[1] == "/people/review" and b[1] == "/people/{person_id}"
    )
    assert len(routes) > 60 and [(a[1], b[1]) for a in routes for b in routes if a[0] < b[0] and clash(a, b)] == []
