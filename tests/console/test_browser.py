"""The console in a real browser (Debian's chromium through Playwright) against a real server: sign in, a need's
candidates with reasons, shortlisting one (found in the stored feedback), search in Chinese, the language switch,
an enterprise's masked cards and 404 page, keyboard reach. Every page is checked with axe-core and saved as a
screenshot under ``test-artifacts/console/``."""

from __future__ import annotations

import re

import pytest
from console_helpers import World, browser_sign_in, check_accessibility, screenshot, tab_through
from playwright.sync_api import expect

from service.store import Store

pytestmark = pytest.mark.browser


def test_sign_in_page_and_needs(page, world: World) -> None:
    page.goto("/console/needs")
    expect(page).to_have_url(re.compile(r"/console/signin\?next="))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    check_accessibility(page)
    screenshot(page, "signin")
    browser_sign_in(page, world.keys["recruiter"])
    expect(page.get_by_role("heading", name="需求")).to_be_visible()
    expect(page.get_by_role("link", name="钙钛矿太阳能电池研发负责人")).to_be_visible()
    # the counts load after the page (htmx): the pv need ranks its three consenting talents
    expect(page.locator("td[hx-get='/console/needs/n-pv/count']")).to_have_text("3")
    check_accessibility(page)
    screenshot(page, "needs")


def test_a_need_shows_candidates_with_reasons_and_a_shortlist_is_stored(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.get_by_role("link", name="钙钛矿太阳能电池研发负责人").click()
    expect(page.get_by_role("heading", name="钙钛矿太阳能电池研发负责人")).to_be_visible()
    rows = page.locator("table.candidates tbody tr")
    expect(rows).to_have_count(3)  # t-pv3 did not consent to matching: never ranked
    expect(page.locator("#row-t-pv1 ul.reasons li").first).to_be_visible()
    expect(page.locator("#row-t-pv4 .flag")).to_have_text("需人工复核")  # refused purely automated decisions
    expect(page.get_by_role("heading", name="规则及其排除人数")).to_be_visible()
    expect(page.locator("table.rules")).to_contain_text("同意匹配")
    check_accessibility(page)
    screenshot(page, "need")
    url = page.url
    page.get_by_role("button", name=re.compile(r"^入围：李伟")).click()
    expect(page.locator("#row-t-pv1 .done")).to_have_text("已记录：t-pv1 — 入围")  # htmx: the row says so in place
    assert page.url == url
    with Store(world.url) as store:
        stored = [f for f in store.iter_records("feedback") if f.talent_id == "t-pv1" and str(f.action) == "shortlist"]
    assert stored and stored[-1].need_id == "n-pv" and stored[-1].ranking_id
    # the talent page: profile, fitting needs and the receipt of the ranking just seen
    page.get_by_role("link", name="李伟").click()
    expect(page.get_by_role("heading", name="为何推荐此人：排序决策记录")).to_be_visible()
    expect(page.locator("section.receipt svg.chart").first).to_be_visible()
    expect(page.get_by_role("link", name="钙钛矿太阳能电池研发负责人")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "talent")


def test_search_in_chinese(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.get_by_role("link", name="检索人才").click()
    page.get_by_label("关键词（中文或英文）").fill("芯片设计 RISC-V")
    page.get_by_label("岗位类型").select_option("full_time")
    page.get_by_role("button", name="检索").click()
    expect(page.get_by_role("heading", name="检索结果")).to_be_visible()
    expect(page.locator("table.candidates tbody tr").first).to_contain_text(re.compile("张强|赵敏"))
    expect(page.locator("table.candidates")).not_to_contain_text("Bob Li")  # no matching consent
    check_accessibility(page)
    screenshot(page, "search")


def test_switch_language(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.goto("/console/needs/n-pv")
    page.get_by_role("link", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Rules and how many each removed")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Shortlist: ")).first).to_be_visible()
    page.get_by_role("link", name="Needs", exact=True).click()  # remembered on the next page
    expect(page.get_by_role("heading", name="Needs")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "needs-en")
    page.get_by_role("link", name="切换到中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_an_enterprise_sees_masked_cards_and_a_404_for_another_enterprises_need(page, world: World) -> None:
    browser_sign_in(page, world.keys["e1"])
    expect(page.get_by_role("link", name="RISC-V SoC design lead")).to_have_count(0)
    page.goto("/console/needs/n-pv")
    masked = page.locator("#row-t-pv2")
    expect(masked).to_contain_text("（已隐藏：未同意共享）")
    expect(masked).not_to_contain_text("Anna")
    expect(page.locator("#row-t-pv1")).to_contain_text("李伟")  # consented to sharing
    expect(page.get_by_label("国籍")).to_have_count(0)  # an enterprise filters only on what a card shows
    check_accessibility(page)
    screenshot(page, "need-enterprise")
    response = page.goto("/console/needs/n-chip")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name=re.compile("404"))).to_be_visible()
    check_accessibility(page)
    screenshot(page, "not-found")


def test_main_controls_are_reachable_by_keyboard(page, world: World) -> None:
    browser_sign_in(page, world.keys["recruiter"])
    page.goto("/console/needs/n-pv")
    text = tab_through(page, 80)
    for wanted in ("跳到正文", "lang-switch|", "退出登录", "|需求", "|检索人才", "f-residence|", "toggle-personalized|",
                   "入围：李伟", "拒绝：李伟"):  # fmt: skip
        assert wanted in text, f"{wanted!r} not reached by Tab:\n{text}"
    # the skip link moves focus to the content
    page.goto("/console/needs")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


def test_the_accessibility_check_fails_on_a_bad_page(page) -> None:
    """The axe-core helper is no rubber stamp: an unlabelled input and an image without text fail it."""
    page.set_content('<html lang="en"><body><main><h1>x</h1><input type="text"><img src="x.png"></main></body></html>')
    with pytest.raises(AssertionError, match=r"label|image-alt"):
        check_accessibility(page)


def test_chinese_renders_in_a_cjk_font(page, world: World) -> None:
    page.goto("/console/signin")
    assert page.evaluate("() => document.fonts.check('16px \"WenQuanYi Micro Hei\"', '密钥')")
    family = page.evaluate("() => getComputedStyle(document.querySelector('label')).fontFamily")
    assert "WenQuanYi Micro Hei" in family


def test_pages_fit_a_phone_screen(page, world: World) -> None:
    """Responsive: on a 390 px wide screen nothing but the candidate table (in its own scroller) is wider."""
    page.set_viewport_size({"width": 390, "height": 844})
    browser_sign_in(page, world.keys["recruiter"])
    for path in ("/console/needs", "/console/needs/n-pv", "/console/talents/t-pv1"):
        page.goto(path)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, path
    screenshot(page, "talent-phone")
