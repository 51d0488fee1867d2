"""The console over plain HTTP (httpx on a real server): sign-in and the session cookie's flags, CSRF refusals,
redirects to sign-in with a safe ``next``, 404 pages for another tenant's need, revoked keys signed out, the
language switch and row actions recording feedback."""

from __future__ import annotations

import base64
import json

import httpx
from console_helpers import World, csrf_of, sign_in

from service.keys import issue_key, revoke_key
from service.store import Store


def test_pages_redirect_to_sign_in_with_next(client: httpx.Client) -> None:
    r = client.get("/console/needs/n-pv?personalized=false")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/signin?next=%2Fconsole%2Fneeds%2Fn-pv%3Fpersonalized%3Dfalse"


def test_sign_in_sets_a_signed_httponly_lax_cookie_and_follows_next(client: httpx.Client, world: World) -> None:
    form = client.get("/console/signin", params={"next": "/console/needs/n-pv"})
    assert form.status_code == 200
    assert 'for="key">API 密钥</label>' in form.text and '<html lang="zh-CN">' in form.text
    r = client.post("/console/signin", data={"csrf": csrf_of(form.text), "key": world.keys["recruiter"],
                                             "next": "/console/needs/n-pv"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/console/needs/n-pv"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("tm_console="))
    flags = {p.strip().lower() for p in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/console"} <= flags
    assert "secure" not in flags  # plain http on loopback; https requests get Secure
    payload = cookie.split(";")[0].removeprefix("tm_console=").split(".")[0]
    session = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(session) == {"key", "csrf"} and world.keys["recruiter"] not in cookie  # the key is sealed, not readable
    assert client.get("/console/needs").status_code == 200


def test_next_is_only_a_console_path(client: httpx.Client, world: World) -> None:
    for bad in ("https://evil.example/", "//evil.example/console", "/docs", "/console\\@evil", "/consolex"):
        form = client.get("/console/signin", params={"next": bad})
        r = client.post("/console/signin", data={"csrf": csrf_of(form.text), "key": world.keys["recruiter"],
                                                 "next": bad})  # fmt: skip
        assert r.headers["location"] == "/console/needs", bad
        client.cookies.clear()


def test_a_wrong_key_is_refused_without_a_session(client: httpx.Client) -> None:
    form = client.get("/console/signin")
    r = client.post("/console/signin", data={"csrf": csrf_of(form.text), "key": "tm_nope"})
    assert r.status_code == 401 and "密钥无效" in r.text
    assert client.get("/console/needs").status_code == 303


def test_posts_without_or_with_a_wrong_csrf_token_are_refused(client: httpx.Client, world: World) -> None:
    # the sign-in form itself
    r = client.post("/console/signin", data={"key": world.keys["recruiter"]})
    assert r.status_code == 403 and "表单已过期" in r.text
    assert sign_in(client, world.keys["recruiter"]).status_code == 303
    page = client.get("/console/needs/n-pv")
    assert page.status_code == 200
    token = csrf_of(page.text)
    ranking_id = page.text.split('name="ranking_id" value="')[1].split('"')[0]
    data = {"talent_id": "t-pv1", "action": "shortlist", "ranking_id": ranking_id}
    before = _feedback(world)
    assert client.post("/console/needs/n-pv/feedback", data=data).status_code == 403
    assert client.post("/console/needs/n-pv/feedback", data=data | {"csrf": token + "x"}).status_code == 403
    assert client.post("/console/signout", data={}).status_code == 403
    assert _feedback(world) == before  # nothing written
    # a token from another session is worth nothing either
    with httpx.Client(base_url=world.base) as other:
        sign_in(other, world.keys["admin"])
        assert other.post("/console/needs/n-pv/feedback", data=data | {"csrf": token}).status_code == 403
    r = client.post("/console/needs/n-pv/feedback", data=data | {"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/console/needs/n-pv"
    assert ("n-pv", "t-pv1", "shortlist", ranking_id) in _feedback(world)
    assert "已记录：t-pv1 — 入围" in client.get(r.headers["location"]).text  # without JavaScript: the page says so


def test_an_enterprise_gets_a_404_page_for_another_enterprises_need(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["e1"])
    r = client.get("/console/needs/n-chip")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "n-chip" in r.text and "<h1>404" in r.text
    assert client.get("/console/needs/n-nope").status_code == 404
    listing = client.get("/console/needs")
    assert "n-pv" in listing.text and "n-chip" not in listing.text
    assert 'href="/console/search"' not in listing.text  # no link to what the role may not use
    assert '<a href="/console/needs" aria-current="page">' in listing.text
    own = client.get("/console/needs/n-pv")
    assert own.status_code == 200
    assert "Anna Schmidt" not in own.text and "（已隐藏：未同意共享）" in own.text  # t-pv2 did not consent to sharing
    assert "李伟" in own.text  # t-pv1 did
    # an enterprise filters only on what a card shows, as the API
    assert client.get("/console/needs/n-pv", params={"nationality": "DE"}).status_code == 422
    assert client.get("/console/search", params={"q": "钙钛矿"}).status_code == 403
    assert client.get("/console/talents/t-pv1").status_code == 403


def test_a_revoked_key_is_signed_out_at_once(client: httpx.Client, world: World) -> None:
    with Store(world.url) as store:
        info, key = issue_key(store, "recruiter", label="short-lived")
        sign_in(client, key)
        assert client.get("/console/needs").status_code == 200
        revoke_key(store, info.id)
    r = client.get("/console/needs")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/signin")


def test_the_language_switch_is_remembered(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    zh = client.get("/console/needs")
    assert '<html lang="zh-CN">' in zh.text and "需求" in zh.text
    en = client.get("/console/needs", params={"lang": "en"})
    assert '<html lang="en">' in en.text and ">Needs</h1>" in en.text
    assert '<html lang="en">' in client.get("/console/needs/n-pv").text  # the cookie keeps it
    assert client.get("/console/needs", params={"lang": "fr"}).status_code == 422


def test_bad_input_is_a_422_page_naming_the_field(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    r = client.get("/console/needs/n-pv", params={"tier": "Z"})
    assert r.status_code == 422 and "tier" in r.text and r.headers["content-type"].startswith("text/html")
    assert client.get("/console/needs/n-pv", params={"k": "0"}).status_code == 422
    assert client.get("/console/needs", params={"bogus": "1"}).status_code == 422
    assert client.get("/console/talents/t-none").status_code == 404
    assert client.get("/console/nowhere").status_code == 404


def test_static_files_are_served_and_no_page_loads_anything_from_elsewhere(client: httpx.Client, world: World) -> None:
    assert client.get("/console/static/vendor/htmx.min.js").status_code == 200
    assert client.get("/console/static/console.css").status_code == 200
    sign_in(client, world.keys["recruiter"])
    for path in ("/console/needs", "/console/needs/n-pv", "/console/search?q=钙钛矿", "/console/talents/t-pv1"):
        html = client.get(path).text
        assert "http://" not in html and "https://" not in html, path


def _feedback(world: World) -> list[tuple]:
    """The stored feedback events (need, talent, action, ranking id)."""
    with Store(world.url) as store:
        return [(f.need_id, f.talent_id, str(f.action), f.ranking_id) for f in store.iter_records("feedback")]


def test_the_data_team_reads_profiles_but_ranks_and_searches_nothing(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["data_team"])
    assert client.get("/console/needs").status_code == 200
    r = client.get("/console/needs/n-pv")
    assert r.status_code == 403 and "data_team" in r.text
    assert client.get("/console/search", params={"q": "RISC-V"}).status_code == 403
    talent = client.get("/console/talents/t-chip1")
    assert talent.status_code == 200 and "张强" in talent.text
    assert "适合的开放需求" not in talent.text  # GET /talents/{id}/needs is recruiters' and admins'
    assert client.get("/console/needs/n-pv/count").text == "—"


def test_record_text_is_escaped(client: httpx.Client, world: World) -> None:
    need = {"id": "n-xss", "title": "<script>alert(1)</script> 研发", "enterprise_id": "e1"}
    assert httpx.post(f"{world.base}/needs", json=need, headers={"Authorization": f"Bearer {world.keys['admin']}"},
                      timeout=30).status_code == 201  # fmt: skip
    sign_in(client, world.keys["recruiter"])
    for path in ("/console/needs", "/console/needs/n-xss"):
        html = client.get(path).text
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_the_cookie_is_secure_when_the_request_came_over_https(client: httpx.Client, world: World) -> None:
    https = {"X-Forwarded-Proto": "https"}  # uvicorn trusts the proxy headers of loopback, as behind a local proxy
    form = client.get("/console/signin", headers=https)
    cookie = next(h for h in form.headers.get_list("set-cookie") if h.startswith("tm_console="))
    assert "secure" in {p.strip().lower() for p in cookie.split(";")}


def test_paging_and_the_non_personalised_toggle(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    first = client.get("/console/needs/n-pv", params={"k": 1})
    assert first.text.count('<tr id="row-') == 1 and 'href="/console/needs/n-pv?k=1&amp;offset=1"' in first.text
    second = client.get("/console/needs/n-pv", params={"k": 1, "offset": 1})
    assert second.text.count('<tr id="row-') == 1 and "<td>2</td>" in second.text
    assert 'href="/console/needs/n-pv?k=1&amp;offset=0"' in second.text
    assert 'id="toggle-personalized" href="/console/needs/n-pv?k=1&amp;personalized=false"' in first.text
    plain = client.get("/console/needs/n-pv", params={"personalized": "false"})
    assert plain.status_code == 200 and "改用个性化排序" in plain.text


def test_feedback_is_checked_as_the_api_checks_it(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["e1"])
    page = client.get("/console/needs/n-pv")
    token = csrf_of(page.text)
    ranking_id = page.text.split('name="ranking_id" value="')[1].split('"')[0]
    post = {"csrf": token, "ranking_id": ranking_id, "action": "contact"}
    before = _feedback(world)
    r = client.post("/console/needs/n-pv/feedback", data=post | {"talent_id": "t-chip1"})
    assert r.status_code == 422 and "talent_id" in r.text  # not shown on that ranking
    r = client.post("/console/needs/n-pv/feedback", data=post | {"talent_id": "t-pv1", "ranking_id": "f" * 32})
    assert r.status_code == 404 and "ranking_id" in r.text
    r = client.post("/console/needs/n-chip/feedback", data=post | {"talent_id": "t-pv1"})
    assert r.status_code == 404  # another enterprise's need
    r = client.post("/console/needs/n-pv/feedback", data=post | {"talent_id": "t-pv1", "action": "bribe"})
    assert r.status_code == 422 and "action" in r.text
    assert _feedback(world) == before
    r = client.post("/console/needs/n-pv/feedback", data=post | {"talent_id": "t-pv2"})
    assert r.status_code == 303 and ("n-pv", "t-pv2", "contact", ranking_id) in _feedback(world)


def test_the_needs_list_filters_by_kind_platform_enterprise_and_status(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])

    def shown(**params: str) -> set[str]:
        r = client.get("/console/needs", params=params)
        assert r.status_code == 200
        return {n for n in ("n-pv", "n-chip") if f'href="/console/needs/{n}"' in r.text}

    assert shown() == {"n-pv", "n-chip"}
    assert shown(platform="p-xiu") == {"n-pv"}  # the platform of the need's enterprise
    assert shown(kind="full_time") == {"n-chip"}
    assert shown(enterprise="e2") == {"n-chip"}
    assert shown(status="closed") == set()
    assert client.get("/console/needs/n-pv/count").text == "3"
    assert client.get("/console/needs", params={"kind": "nope"}).status_code == 422


def test_htmx_requests_get_fragments(client: httpx.Client, world: World) -> None:
    hx = {"HX-Request": "true"}
    r = client.get("/console/needs/n-pv/count", headers=hx)
    assert r.status_code == 204 and r.headers["hx-redirect"].startswith("/console/signin?next=")
    sign_in(client, world.keys["recruiter"])
    page = client.get("/console/needs/n-pv")
    data = {"csrf": csrf_of(page.text), "talent_id": "t-pv4", "action": "interview",
            "ranking_id": page.text.split('name="ranking_id" value="')[1].split('"')[0]}  # fmt: skip
    r = client.post("/console/needs/n-pv/feedback", data=data, headers=hx)
    assert r.status_code == 200 and r.text == "已记录：t-pv4 — 面试"
    r = client.post("/console/needs/n-pv/feedback", data=data | {"csrf": "forged"}, headers=hx)
    assert r.status_code == 403 and r.text.startswith('<span class="error"') and "<html" not in r.text


def test_a_fault_on_a_page_is_an_html_500_page_without_its_text(
    client: httpx.Client, world: World, monkeypatch
) -> None:
    def broken(*_a, **_k):
        raise RuntimeError("boom at /srv/secret/path")

    monkeypatch.setattr("service.console.needs.need_candidates", broken)
    sign_in(client, world.keys["recruiter"])
    r = client.get("/console/needs/n-pv", params={"lang": "en"})
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "Internal error" in r.text and "service log" in r.text
    assert "boom" not in r.text and "/srv" not in r.text and "RuntimeError" not in r.text
    monkeypatch.undo()
    assert client.get("/talents", headers={"Authorization": f"Bearer {world.keys['recruiter']}"}).status_code == 200


def test_the_database_down_is_an_html_503_page_without_the_host(tmp_path) -> None:
    """The key check reads the database: with the store unreachable, signing in shows a 503 page in the page's
    language that names neither the host nor the driver (the API's JSON 503 is unchanged)."""
    from api_helpers import settings_for
    from fastapi.testclient import TestClient

    from service.api.app import create_app

    down = create_app(settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path))
    down.state.store = Store("postgresql+psycopg://secretuser:pw@127.0.0.1:1/secretdb?connect_timeout=2")
    client = TestClient(down, raise_server_exceptions=False)  # no lifespan: the store stays the unreachable one
    try:
        form = client.get("/console/signin")
        assert form.status_code == 200
        r = client.post("/console/signin", data={"csrf": csrf_of(form.text), "key": "tm_" + "x" * 43})
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html"), r.text[:300]
        assert "数据库暂不可用" in r.text
        for secret in ("127.0.0.1", "secretuser", "secretdb", "refused", "psycopg"):
            assert secret not in r.text, secret
        api = client.get("/talents", headers={"Authorization": "Bearer tm_" + "x" * 43})
        assert api.status_code == 503 and api.headers["content-type"].startswith("application/json")
    finally:
        down.state.store.close()
