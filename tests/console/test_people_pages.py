"""The console's people pages on a real server over a real SQLite file holding the API tests' small people world
(three review pairs, forty two-record persons): the queue side by side, confirm (the person page then lists both
records), reject, undo behind its server-checked confirmation, who may do what, and the error pages (422 naming the
field, 409 with the store's message and nothing changed); and one confirmation clicked in a real browser, in Chinese,
axe-checked. Linking runs once per module; each test gets its own copy of the database and its own server."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from api_helpers import run_server, seed, settings_for, write_small_world
from console_helpers import World, browser_sign_in, check_accessibility, csrf_of, screenshot, sign_in
from people_helpers import REVIEW, people_talents
from playwright.sync_api import expect

from service import audit, db, people
from service.api.app import create_app
from service.store import Store


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The people world, linked (``people.apply``), with one key per role: the database every test copies."""
    tmp = tmp_path_factory.mktemp("people-console")
    path = tmp / "people.db"
    keys = seed(f"sqlite:///{path}", write_small_world(tmp / "world"))
    with Store(f"sqlite:///{path}") as store:
        assert store.upsert(people_talents()).ok
        people.apply(store, list(store.iter_records("talent")))
    return path, keys


@pytest.fixture
def world(linked: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A fresh copy of the linked world served by its own server (tests decide pairs; none sees another's)."""
    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    url = f"sqlite:///{shutil.copy(linked[0], tmp_path / 'people.db')}"
    with run_server(create_app(settings_for(url, tmp_path))) as base:
        yield World(base, linked[1], url)


def _members(world: World) -> dict[str, tuple[str, str]]:
    m = db.PersonMemberRow.__table__
    with Store(world.url) as store, store.engine.connect() as conn:
        return {t: (p, how) for t, p, how in conn.execute(sa.select(m.c.talent_id, m.c.person_id, m.c.how))}


def _queue(world: World) -> list[tuple[str, str]]:
    with Store(world.url) as store:
        return [(i.left.talent_id, i.right.talent_id) for i in people.review(store)]


def _decide(client: httpx.Client, left: str, right: str, decision: str) -> httpx.Response:
    token = csrf_of(client.get("/console/people").text)
    return client.post("/console/people/review", data={"csrf": token, "left": left, "right": right,
                                                       "decision": decision})  # fmt: skip


def test_the_queue_shows_each_pair_side_by_side_with_buttons_for_the_office(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    r = client.get("/console/people")
    assert r.status_code == 200 and "<h1>人员合并：待复核的记录对</h1>" in r.text
    assert 'href="/console/people" aria-current="page">人员合并</a>' in r.text  # the header's link
    at = [r.text.index(f'id="pair-{left}-{right}"') for left, right in REVIEW]
    assert at == sorted(at)  # most probable first, as the API lists them
    section = r.text[at[0] : at[1]]
    assert "<h2" in section and "T001 与 W001" in section and "同一人的概率：0." in section
    assert "一致的比较项: 姓名" in section  # the comparison that agreed, in Chinese
    assert "李立丽" in section and "p***@example.com" in section and "Employer 1" in section  # e-mail masked
    assert '<a href="/console/talents/T001">T001</a>' in section  # the record's page
    assert '<a href="/console/people/W001">W001</a>' in section  # its person's
    assert r.text.count('name="decision" value="confirm"') == r.text.count('name="decision" value="reject"') == 3
    assert 'aria-label="确认为同一人：T001 与 W001"' in section and 'aria-label="拒绝合并：T001 与 W001"' in section
    with Store(world.url) as store:  # the read is audited as the API's is
        shown = {e.object_id for e in audit.entries(store, object_kind="talent")[0] if e.action == "review"}
    assert shown == {t for pair in REVIEW for t in pair}
    en = client.get("/console/people", params={"lang": "en"}).text
    assert 'aria-label="Confirm: T001 and W001"' in en and "Comparisons that agreed: name" in en
    assert "人员合并" not in en


def test_confirm_merges_the_pair_and_undo_splits_it_again(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    r = _decide(client, "W001", "T001", "confirm")
    assert r.status_code == 303 and r.headers["location"] == "/console/people"
    queue = client.get("/console/people").text
    assert "已确认：T001 与 W001 为同一人。" in queue and 'href="/console/people/T001">查看人员 T001' in queue
    assert 'id="pair-T001-W001"' not in queue and _queue(world) == REVIEW[1:]
    assert _members(world)["W001"] == ("T001", "confirmed")

    card = client.get("/console/people/T001")
    assert card.status_code == 200 and "<h1>人员：T001</h1>" in card.text and "共 2 条记录" in card.text
    assert 'id="record-T001"' in card.text and 'id="record-W001"' in card.text
    assert "模型关联" in card.text and "人工确认" in card.text
    assert re.search(r"中文名 <code class=\"meta\">name_zh</code></th>\s*<td>李立丽</td>\s*"
                     r'<td><a href="/console/talents/T001">T001</a>', card.text)  # fmt: skip
    assert 'href="/console/people/T001/undo"' in card.text

    confirm = client.get("/console/people/T001/undo")
    assert confirm.status_code == 200 and "确认：撤销人员 T001 的合并" in confirm.text
    token = csrf_of(confirm.text)
    unticked = client.post("/console/people/T001/undo", data={"csrf": token})
    assert unticked.status_code == 422 and "请先勾选确认框。" in unticked.text
    assert _members(world)["W001"] == ("T001", "confirmed")  # nothing changed without the box
    done = client.post("/console/people/T001/undo", data={"csrf": token, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/console/people/T001"
    after = client.get("/console/people/T001").text
    assert "已撤销合并：T001, W001 各自成为独立人员。" in after and "共 1 条记录" in after and "已拆分" in after
    assert 'href="/console/people/T001/undo"' not in after  # one record: nothing to undo
    assert _members(world)["W001"] == ("W001", "split")
    assert 'id="pair-T001-W001"' not in client.get("/console/people").text  # split pairs stay out of the queue


def test_reject_removes_the_pair_from_the_queue(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["admin"])
    assert _decide(client, "T002", "W002", "reject").status_code == 303
    queue = client.get("/console/people").text
    assert "已拒绝：T002 与 W002 今后不会合并。" in queue and 'id="pair-T002-W002"' not in queue
    assert _queue(world) == [REVIEW[0], REVIEW[2]]
    assert _members(world)["W002"] == ("W002", "linked")


def test_the_data_team_reads_without_buttons_and_may_not_decide(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["data_team"])
    r = client.get("/console/people")
    assert r.status_code == 200 and 'id="pair-T001-W001"' in r.text and 'id="read-only"' in r.text
    assert 'name="decision"' not in r.text
    card = client.get("/console/people/D000")
    assert card.status_code == 200 and 'id="record-T000"' in card.text and "/undo" not in card.text
    token = csrf_of(r.text)
    refused = client.post("/console/people/review", data={"csrf": token, "left": "T001", "right": "W001",
                                                          "decision": "confirm"})  # fmt: skip
    assert refused.status_code == 403 and "needs one of: admin, recruiter" in refused.text
    assert client.post("/console/people/D000/undo", data={"csrf": token, "confirm": "yes"}).status_code == 403
    assert client.get("/console/people/D000/undo").status_code == 403
    assert _queue(world) == REVIEW and _members(world)["T000"] == ("D000", "linked")


def test_enterprises_get_the_403_page(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["e1"])
    for path in ("/console/people", "/console/people/D000", "/console/people/D000/undo"):
        r = client.get(path)
        assert r.status_code == 403 and "无权执行此操作" in r.text, path
    assert 'href="/console/people"' not in client.get("/console/needs").text
    assert _decide(client, "T001", "W001", "confirm").status_code == 403  # the queue's token: any page's works
    assert _queue(world) == REVIEW


def test_bad_input_is_a_422_page_naming_the_field_and_unknown_ids_404(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    for (left, right, decision), field in [
        (("T001", "W001", "maybe"), "decision"),
        (("", "W001", "confirm"), "left"),
        (("T001", "T001", "confirm"), "right"),
    ]:
        r = _decide(client, left, right, decision)
        assert r.status_code == 422 and f"字段：{field}" in r.text, (field, r.text)
    ghost = _decide(client, "T001", "ghost", "confirm")
    assert ghost.status_code == 404 and "talent &#39;ghost&#39; does not exist" in ghost.text
    assert client.get("/console/people/ghost").status_code == 404
    assert _queue(world) == REVIEW  # nothing written by the refusals


def test_a_confirm_against_a_rejection_is_a_409_page_and_changes_nothing(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    assert _decide(client, "T003", "W003", "reject").status_code == 303
    assert _decide(client, "W003", "T004", "confirm").status_code == 303  # W003 joins T004's person
    before = _members(world)
    r = _decide(client, "T003", "T004", "confirm")  # would make one person of T003 and W003
    assert r.status_code == 409 and "<h1>409 · 无法执行</h1>" in r.text
    assert "a pair the office kept apart; nothing was changed" in r.text
    assert _members(world) == before
    one = _decide(client, "T000", "D000", "reject")
    assert one.status_code == 409 and "undo it first" in one.text


@pytest.mark.browser
def test_confirm_a_pair_in_the_browser(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.get_by_role("link", name="人员合并").click()
    expect(page.get_by_role("heading", name="人员合并：待复核的记录对")).to_be_visible()
    expect(page.locator("section.pair")).to_have_count(3)
    check_accessibility(page)
    screenshot(page, "people")
    page.get_by_role("button", name="确认为同一人：T001 与 W001").click()
    expect(page.locator(".notice")).to_contain_text("已确认：T001 与 W001 为同一人。")
    expect(page.locator("section.pair")).to_have_count(2)
    assert _members(world)["W001"] == ("T001", "confirmed")
    page.get_by_role("link", name="查看人员 T001").click()
    expect(page.locator("#record-W001")).to_contain_text("人工确认")
    check_accessibility(page)
    screenshot(page, "person")
