"""The enterprise page over plain HTTP (httpx on a real server): who may open it, posting and editing needs through
the API's functions (422 next to the field, the daily quota, another enterprise's need a 404 page), the alert inbox
and mark-read, subscriptions (inbox, the webhook guard's refusal, e-mail awaiting confirmation, delete), CSRF."""

from __future__ import annotations

import re

import httpx
import sqlalchemy as sa
from console_helpers import World, csrf_of, sign_in
from enterprise_helpers import seed_alert

from service import db
from service.store import Store


def _need(world: World, need_id: str):
    with Store(world.url) as store:
        return store.get("need", need_id)


def test_who_may_open_the_enterprise_page(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["e1"])
    r = client.get("/console/enterprise")
    assert r.status_code == 200 and "嘉光新能源" in r.text and 'href="/console/needs/n-pv"' in r.text
    assert "n-chip" not in r.text and 'id="inbox"' in r.text and 'id="subscriptions"' in r.text
    assert client.get("/console/enterprise", params={"enterprise": "e1"}).status_code == 200
    other = client.get("/console/enterprise", params={"enterprise": "e2"})  # another enterprise: as if none
    assert other.status_code == 404 and "<h1>404" in other.text and "Acme" not in other.text
    client.cookies.clear()
    sign_in(client, world.keys["recruiter"])
    chooser = client.get("/console/enterprise")
    assert chooser.status_code == 200 and '<option value="e2">' in chooser.text
    office = client.get("/console/enterprise", params={"enterprise": "e2"})
    assert office.status_code == 200 and "n-chip" in office.text and "n-pv" not in office.text
    assert 'id="inbox"' not in office.text and "只对该企业自己的密钥可见" in office.text  # alerts: its own keys only
    assert client.get("/console/enterprise", params={"enterprise": "e-none"}).status_code == 404
    client.cookies.clear()
    sign_in(client, world.keys["data_team"])
    r = client.get("/console/enterprise")
    assert r.status_code == 403 and "data_team" in r.text


def test_an_enterprise_posts_and_edits_a_need_with_errors_next_to_their_fields(
    client: httpx.Client, world: World
) -> None:
    sign_in(client, world.keys["e1"])
    form = client.get("/console/enterprise/needs/new")
    assert form.status_code == 200 and 'for="n-title"' in form.text
    token = csrf_of(form.text)
    bad = {"csrf": token, "id": "n-e1-new", "title": "", "kind": "full_time", "status": "open", "site": "jiaxing",
           "months_per_year": "13", "required_skills": "perovskite"}  # fmt: skip
    r = client.post("/console/enterprise/needs", data=bad)
    assert r.status_code == 422
    assert re.search(r'id="n-title"[^>]*aria-invalid="true"', r.text) and 'id="err-title"' in r.text
    assert 'id="err-months_per_year"' in r.text and "less than or equal to 12" in r.text
    assert 'value="perovskite"' in r.text  # what was typed stays
    assert _need(world, "n-e1-new") is None  # nothing written
    ok = bad | {"title": "薄膜工艺工程师", "months_per_year": "4", "enterprise": "e1"}
    assert client.post("/console/enterprise/needs", data=ok | {"enterprise": "e2"}).status_code == 404  # not its own
    assert _need(world, "n-e1-new") is None
    r = client.post("/console/enterprise/needs", data=ok)
    assert r.status_code == 303 and r.headers["location"] == "/console/enterprise#needs"
    stored = _need(world, "n-e1-new")
    assert stored is not None and stored.enterprise_id == "e1" and stored.months_per_year == 4
    page = client.get("/console/enterprise")
    assert "已发布需求 n-e1-new" in page.text and 'href="/console/needs/n-e1-new"' in page.text
    assert client.post("/console/enterprise/needs", data=ok).status_code == 409  # the id is taken
    edit = client.get("/console/enterprise/needs/n-e1-new/edit")
    assert edit.status_code == 200 and 'value="薄膜工艺工程师"' in edit.text
    r = client.post("/console/enterprise/needs/n-e1-new", data={"csrf": token, "title": "薄膜工艺负责人",
                    "kind": "enclave", "status": "paused", "site": "jiaxing", "languages": "zh, english"})  # fmt: skip
    assert r.status_code == 422 and 'id="err-languages"' in r.text
    r = client.post("/console/enterprise/needs/n-e1-new", data={"csrf": token, "title": "薄膜工艺负责人",
                    "kind": "enclave", "status": "paused", "site": "jiaxing", "languages": "zh, en"})  # fmt: skip
    assert r.status_code == 303
    stored = _need(world, "n-e1-new")
    assert (stored.title, str(stored.kind), str(stored.status), stored.languages) == (
        "薄膜工艺负责人",
        "enclave",
        "paused",
        ["zh", "en"],
    )
    assert stored.months_per_year is None  # emptied on the form  # fmt: skip


def test_another_enterprises_need_is_a_404_page_and_nothing_changes(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["e1"])
    token = csrf_of(client.get("/console/enterprise").text)
    assert client.get("/console/enterprise/needs/n-chip/edit").status_code == 404
    r = client.post("/console/enterprise/needs/n-chip", data={"csrf": token, "title": "mine now", "kind": "full_time",
                                                              "status": "open", "site": "jiaxing"})  # fmt: skip
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert _need(world, "n-chip").title == "RISC-V SoC design lead"
    r = client.post("/console/enterprise/subscriptions", data={"csrf": token, "channel": "inbox", "need_id": "n-chip",
                                                               "top_n": "5"})  # fmt: skip
    assert r.status_code == 404


def test_the_office_posts_a_need_for_an_enterprise(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    form = client.get("/console/enterprise/needs/new", params={"enterprise": "e2", "lang": "en"})
    assert form.status_code == 200 and "Enterprise: e2" in form.text and 'name="enterprise" value="e2"' in form.text
    data = {"csrf": csrf_of(form.text), "enterprise": "e2", "id": "n-office", "title": "Verification engineer",
            "kind": "full_time", "status": "open", "site": "jiaxing", "industry": "semiconductors"}  # fmt: skip
    r = client.post("/console/enterprise/needs", data=data)
    assert r.status_code == 303 and r.headers["location"] == "/console/enterprise?enterprise=e2#needs"
    stored = _need(world, "n-office")
    assert stored.enterprise_id == "e2" and str(stored.industry) == "semiconductors"
    assert client.post("/console/enterprise/needs", data=data | {"id": "n-x", "industry": "gold"}).status_code == 422


def test_posts_without_the_csrf_token_are_refused(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["e1"])
    sub_id, alert_id = seed_alert(world.url)
    data = {"id": "n-csrf", "title": "x", "kind": "full_time", "status": "open", "site": "jiaxing"}
    assert client.post("/console/enterprise/needs", data=data).status_code == 403
    assert client.post(f"/console/enterprise/alerts/{alert_id}/read", data={}).status_code == 403
    assert client.post("/console/enterprise/subscriptions", data={"channel": "inbox", "top_n": "3"}).status_code == 403
    assert client.post(f"/console/enterprise/subscriptions/{sub_id}/delete", data={"csrf": "x"}).status_code == 403
    assert _need(world, "n-csrf") is None
    with Store(world.url) as store, store.engine.connect() as conn:
        a = db.AlertRow.__table__
        assert conn.scalar(sa.select(a.c.read_at).where(a.c.id == alert_id)) is None


def test_the_inbox_counts_unread_and_marks_read_only_its_own(client: httpx.Client, world: World) -> None:
    _, mine = seed_alert(world.url)
    _, theirs = seed_alert(world.url, enterprise_id="e2", need_id="n-chip", talent_id="t-chip1")
    _, masked = seed_alert(world.url, talent_id="t-pv2")  # no sharing consent: masked as on the API
    sign_in(client, world.keys["e1"])
    page = client.get("/console/enterprise")
    row = page.text.split(f'id="alert-{masked}"')[1].split("</tr>")[0]
    assert "姓名已隐藏" in row and "Anna" not in page.text
    token = csrf_of(page.text)
    assert f'id="alert-{mine}" class="unread"' in page.text and f'id="alert-{theirs}"' not in page.text
    unread = int(re.search(r'id="unread-total">未读 (\d+) 条', page.text).group(1))
    assert client.post(f"/console/enterprise/alerts/{theirs}/read", data={"csrf": token}).status_code == 404
    r = client.post(f"/console/enterprise/alerts/{mine}/read", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"].endswith("#inbox")
    page = client.get("/console/enterprise")
    assert f'id="alert-{mine}">' in page.text and f"提醒 {mine} 已标为已读" in page.text
    assert f'id="unread-total">未读 {unread - 1} 条' in page.text
    assert f'id="alert-{mine}"' not in client.get("/console/enterprise", params={"state": "unread"}).text
    client.cookies.clear()
    sign_in(client, world.keys["recruiter"])  # the office: alerts are the enterprise's own, as on the API
    assert client.post(f"/console/enterprise/alerts/{mine}/read", data={"csrf": csrf_of(
        client.get("/console/needs").text)}).status_code == 403  # fmt: skip


def test_subscriptions_inbox_webhook_refused_email_pending_and_delete(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["e1"])
    token = csrf_of(client.get("/console/enterprise").text)
    post = {"csrf": token, "need_id": "n-pv", "top_n": "5", "delivery": "immediate"}
    r = client.post("/console/enterprise/subscriptions", data=post | {"channel": "webhook",
                    "url": "https://127.0.0.1/hook", "secret": "s" * 20})  # fmt: skip
    assert r.status_code == 422 and 'id="err-url"' in r.text and 'value="https://127.0.0.1/hook"' in r.text
    r = client.post("/console/enterprise/subscriptions", data=post | {"channel": "inbox", "top_n": "", "min_score": ""})
    assert r.status_code == 422 and 'id="err-top_n"' in r.text
    r = client.post("/console/enterprise/subscriptions", data=post | {"channel": "email", "email": "not-an-address"})
    assert r.status_code == 422 and 'id="err-email"' in r.text
    r = client.post("/console/enterprise/subscriptions", data=post | {"channel": "email", "email": "hr@example.com",
                                                                      "url": "https://ignored.example"})  # fmt: skip
    assert r.status_code == 303
    r = client.post("/console/enterprise/subscriptions", data=post | {"channel": "inbox"})
    assert r.status_code == 303
    page = client.get("/console/enterprise")
    rows = dict(re.findall(r'<tr id="sub-(\d+)">(.*?)</tr>', page.text, re.S))
    email = next(i for i, row in rows.items() if "hr@example.com" in row)
    inbox = max(i for i, row in rows.items() if "收件箱" in row)
    assert "邮箱待确认" in rows[email] and "未生效" in rows[email] and 'name="token"' in rows[email]
    assert "生效中" in rows[inbox] and "排队中: 0" in rows[inbox] and "已送达: 0" in rows[inbox]
    r = client.post(f"/console/enterprise/subscriptions/{email}/verify", data={"csrf": token, "token": "wrong"})
    assert r.status_code == 422 and "token" in r.text
    sub_id, _ = seed_alert(world.url)  # one delivered (inbox) alert for a fresh subscription
    page = client.get("/console/enterprise")
    assert "已送达: 1" in dict(re.findall(r'<tr id="sub-(\d+)">(.*?)</tr>', page.text, re.S))[str(sub_id)]
    r = client.post(f"/console/enterprise/subscriptions/{inbox}/delete", data={"csrf": token})
    assert r.status_code == 303
    assert f'id="sub-{inbox}"' not in client.get("/console/enterprise").text
    _, theirs = seed_alert(world.url, enterprise_id="e2", need_id="n-chip", talent_id="t-chip1")
    with Store(world.url) as store, store.engine.connect() as conn:
        a = db.AlertRow.__table__
        their_sub = conn.scalar(sa.select(a.c.subscription_id).where(a.c.id == theirs))
    assert client.post(f"/console/enterprise/subscriptions/{their_sub}/delete", data={"csrf": token}).status_code == 404


def test_the_daily_quota_of_new_needs_is_shown_clearly(client: httpx.Client, world: World) -> None:
    api = {"Authorization": f"Bearer {world.keys['e2']}"}
    for n in range(100):  # the day's quota used up through the API, as many posts would
        r = httpx.post(f"{world.base}/needs", json={"id": f"n-q{n}", "title": "quota"}, headers=api, timeout=30)
        if r.status_code == 429:
            break
        assert r.status_code == 201, r.text
    else:
        raise AssertionError("no quota")
    sign_in(client, world.keys["e2"])
    token = csrf_of(client.get("/console/enterprise/needs/new").text)
    data = {"csrf": token, "id": "n-over", "title": "quota", "kind": "full_time", "status": "open", "site": "jiaxing"}
    r = client.post("/console/enterprise/needs", data=data)
    assert r.status_code == 429 and 'id="err-quota"' in r.text and "今日新需求额度已用完" in r.text
    assert int(r.headers["Retry-After"]) > 0
    assert "TALENTMATCH_ENTERPRISE_DAILY_NEEDS" in r.text or "quota" in r.text
    assert _need(world, "n-over") is None
