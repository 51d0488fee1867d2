"""The recruiters' pages in a real browser (Debian's chromium through Playwright) against a real server: shortlist on
a need's page and find the card on the pipeline board and in the stored feedback, move it, download the CSV export,
save a search and re-run it with the new talents marked, compare two candidates, and reach every control by
keyboard. Each new page is checked with axe-core and saved as a screenshot under ``test-artifacts/console/``."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from console_helpers import World, browser_sign_in, check_accessibility, screenshot, tab_through
from playwright.sync_api import expect

from service.store import Store

pytestmark = pytest.mark.browser

NEED = "钙钛矿太阳能电池研发负责人"


def _actions(world: World, talent_id: str) -> list[str]:
    with Store(world.url) as store:
        return sorted(str(f.action) for f in store.iter_records("feedback") if f.talent_id == talent_id)


def test_shortlist_then_the_board_then_move_a_card(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.get_by_role("link", name=NEED).click()
    page.get_by_role("button", name=re.compile(r"^入围：Anna Schmidt")).click()
    expect(page.locator("#row-t-pv2 .done")).to_have_text("已记录：t-pv2 — 入围")
    assert "shortlist" in _actions(world, "t-pv2")
    page.get_by_role("link", name="查看招聘进度看板").click()
    expect(page.get_by_role("heading", name=f"招聘进度：{NEED}")).to_be_visible()
    card = page.locator("#stage-shortlisted #card-t-pv2")
    expect(card).to_contain_text("Anna Schmidt")
    card.locator("summary").click()
    expect(card.locator("ol.history")).to_contain_text("入围")
    check_accessibility(page)
    screenshot(page, "pipeline")
    url = page.url
    page.get_by_label("移至（Anna Schmidt t-pv2）").select_option("interview")
    page.get_by_role("button", name="移动：Anna Schmidt t-pv2").click()
    expect(page.locator("#board > .notice")).to_have_text("已移动：t-pv2 → 面试")  # htmx: the board, in place
    assert page.url == url
    expect(page.locator("#to-t-pv2")).to_be_focused()  # the keyboard stays with the moved card
    expect(page.locator("#stage-interview #card-t-pv2")).to_be_visible()
    expect(page.locator("#stage-shortlisted #card-t-pv2")).to_have_count(0)
    assert _actions(world, "t-pv2").count("interview") == 1
    # the needs list counts the stage
    page.get_by_role("link", name="需求", exact=True).click()
    expect(page.locator("tr", has=page.get_by_role("link", name=NEED)).locator("[data-stage=interview]")).to_have_text(
        "面试 1"
    )


def test_download_the_shortlist_as_csv(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.goto("/console/needs/n-pv")
    page.get_by_role("button", name=re.compile(r"^入围：李伟")).click()
    expect(page.locator("#row-t-pv1 .done")).to_have_text("已记录：t-pv1 — 入围")
    page.goto("/console/needs/n-pv/pipeline")
    with page.expect_download() as info:
        page.get_by_role("link", name="下载 CSV").click()
    download = info.value
    assert download.suggested_filename == "n-pv-shortlist.csv"
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert "t-pv1" in {r["talent_id"] for r in rows}


def test_save_a_search_and_rerun_it_with_new_talents_marked(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.goto("/console/search")
    page.get_by_label("关键词（中文或英文）").fill("芯片设计 RISC-V")
    page.get_by_label("岗位类型").select_option("full_time")
    page.get_by_role("button", name="检索").click()
    page.get_by_label("名称").fill("芯片人才")
    page.get_by_role("button", name="保存此检索").click()
    expect(page.get_by_role("status")).to_contain_text("已保存检索：芯片人才")
    check_accessibility(page)
    page.get_by_role("link", name="芯片人才").click()
    expect(page.get_by_role("heading", name="保存的检索：芯片人才")).to_be_visible()
    expect(page.locator("tr.is-new .new").first).to_have_text("新")
    # a new chip designer appears; the next visit marks only them
    talent = {"id": "t-chip9", "name": "孙磊", "tier": "C", "skills": ["RISC-V", "芯片设计"],
              "summary": "RISC-V 芯片设计", "availability": {"mode": "full_time"}}  # fmt: skip
    r = httpx.post(f"{world.base}/talents", json=talent, headers={"Authorization": f"Bearer {world.keys['admin']}"})
    assert r.status_code == 201
    page.reload()
    expect(page.locator("tr.is-new")).to_have_count(1)
    expect(page.locator("#row-t-chip9")).to_have_class("is-new")
    expect(page.locator("#new-count")).to_have_text("新出现 1 人")
    check_accessibility(page)
    screenshot(page, "saved-search")


def test_compare_two_candidates(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.goto("/console/needs/n-pv")
    page.get_by_label("比较：李伟 t-pv1").check()
    page.get_by_label("比较：Chen Jie t-pv4").check()
    page.get_by_role("button", name="比较所选候选人").click()
    expect(page).to_have_url(re.compile(r"/console/needs/n-pv/compare\?talent=t-pv1&talent=t-pv4"))
    expect(page.get_by_role("heading", name=f"候选人比较：{NEED}")).to_be_visible()
    table = page.locator("table.compare")
    expect(table.locator("thead th")).to_have_count(2)
    expect(table).to_contain_text("李伟")
    expect(table).to_contain_text("Chen Jie")
    check_accessibility(page)
    screenshot(page, "compare")
    page.goto("/console/needs/n-pv/compare?talent=t-pv1")
    expect(page.get_by_role("heading", name=re.compile("422"))).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("请选择 2 至 4 名候选人")


def test_the_new_controls_are_reachable_by_keyboard(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.goto("/console/needs/n-pv")
    page.get_by_role("button", name=re.compile(r"^入围：Chen Jie")).click()
    expect(page.locator("#row-t-pv4 .done")).to_have_text("已记录：t-pv4 — 入围")
    page.goto("/console/needs/n-pv")

    text = tab_through(page, 120)
    for wanted in ("pipeline-link|", "比较：李伟 t-pv1", "比较所选候选人"):
        assert wanted in text, f"{wanted!r} not reached by Tab:\n{text}"
    page.goto("/console/needs/n-pv/pipeline")
    text = tab_through(page, 60)
    for wanted in ("export-csv|", "export-xlsx|", "to-t-pv4|", "移动：Chen Jie t-pv4", "|经过"):
        assert wanted in text, f"{wanted!r} not reached by Tab:\n{text}"


def test_saved_search_controls_are_reachable_by_keyboard(page, world: World) -> None:
    browser_sign_in(page, world.keys["admin"])
    page.goto("/console/search?q=RISC-V&kind=full_time")
    page.get_by_label("名称").fill("RISC-V 键盘")
    page.get_by_role("button", name="保存此检索").click()
    expect(page.get_by_role("status")).to_contain_text("RISC-V 键盘")
    text = tab_through(page, 80)
    for wanted in ("saved-name|", "|保存此检索", "|RISC-V 键盘", "删除检索：RISC-V 键盘"):
        assert wanted in text, f"{wanted!r} not reached by Tab:\n{text}"
    page.get_by_role("button", name="删除检索：RISC-V 键盘").click()
    expect(page.get_by_role("status")).to_have_text("已删除检索。")
    expect(page.get_by_role("link", name="RISC-V 键盘")).to_have_count(0)


def test_the_new_pages_fit_a_phone_screen(page, world: World) -> None:
    """On a 390 px wide screen the board's columns stack and the comparison scrolls in its own box."""
    page.set_viewport_size({"width": 390, "height": 844})
    browser_sign_in(page, world.keys["recruiter"])
    for path in ("/console/needs/n-pv/pipeline", "/console/needs/n-pv/compare?talent=t-pv1&talent=t-pv2"):
        page.goto(path)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, path
    screenshot(page, "compare-phone")
