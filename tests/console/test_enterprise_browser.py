"""The enterprise page in a real browser against a real server: an enterprise posts a need and sees it, marks an
alert read, subscribes its inbox; an admin views an enterprise; every control is reached by keyboard. Each page is
axe-checked and saved as a screenshot."""

from __future__ import annotations

import re

import pytest
from console_helpers import World, browser_sign_in, check_accessibility, screenshot, tab_through
from enterprise_helpers import seed_alert
from playwright.sync_api import expect

from service.store import Store

pytestmark = pytest.mark.browser


def test_an_enterprise_posts_a_need_and_sees_it(page, world: World) -> None:
    browser_sign_in(page, world.keys["e1"])
    page.get_by_role("link", name="企业", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("嘉光新能源"))).to_be_visible()
    page.get_by_role("link", name="发布需求").click()
    expect(page.get_by_role("heading", name="发布需求")).to_be_visible()
    page.get_by_label("需求编号").fill("n-browser")
    page.get_by_label("每年月数").fill("20")  # out of range: shown next to the field
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#err-title")).to_be_visible()
    expect(page.locator("#err-months_per_year")).to_contain_text("months_per_year")
    expect(page.get_by_label("需求编号")).to_have_value("n-browser")  # what was typed stays
    check_accessibility(page)
    screenshot(page, "need-form-errors")
    page.get_by_label("标题").fill("钙钛矿叠层电池中试工程师")
    page.get_by_label("每年月数").fill("6")
    page.get_by_label("岗位类型").select_option("special_researcher")
    page.get_by_label("必需技能").fill("perovskite, tandem")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_contain_text("已发布需求 n-browser")
    expect(page.get_by_role("link", name="钙钛矿叠层电池中试工程师", exact=True)).to_be_visible()
    with Store(world.url) as store:
        need = store.get("need", "n-browser")
    assert need.enterprise_id == "e1" and need.required_skills == ["perovskite", "tandem"]
    page.get_by_role("link", name="编辑：钙钛矿叠层电池中试工程师").click()
    expect(page.get_by_label("标题")).to_have_value("钙钛矿叠层电池中试工程师")
    check_accessibility(page)
    screenshot(page, "need-form")


def test_an_enterprise_marks_an_alert_read_and_subscribes_its_inbox(page, world: World) -> None:
    _, alert_id = seed_alert(world.url)
    browser_sign_in(page, world.keys["e1"])
    page.goto("/console/enterprise")
    row = page.locator(f"#alert-{alert_id}")
    expect(row).to_have_class("unread")
    expect(row).to_contain_text("李伟")  # the card as the talent's sharing consent allows, rendered now
    unread = int(re.search(r"\d+", page.locator("#unread-total").inner_text()).group())
    check_accessibility(page)
    screenshot(page, "enterprise")
    page.get_by_role("button", name=f"将提醒 {alert_id} 标为已读").click()
    expect(page.get_by_role("status")).to_contain_text(f"提醒 {alert_id} 已标为已读")
    expect(page.locator(f"#alert-{alert_id}")).to_contain_text("已读")
    expect(page.locator("#unread-total")).to_have_text(f"未读 {unread - 1} 条")
    # an inbox subscription for one need
    page.get_by_label("需求", exact=True).select_option("n-pv")
    page.get_by_label("渠道").select_option("inbox")
    page.get_by_label("进入前 N 名时提醒").fill("3")
    page.get_by_role("button", name="订阅", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已创建订阅")
    new = page.locator("table.subs tbody tr").last
    expect(new).to_contain_text("收件箱")
    expect(new).to_contain_text("进入前 3 名")
    expect(new).to_contain_text("生效中")
    # a webhook to a private address: refused next to the field, nothing stored
    page.get_by_label("渠道").select_option("webhook")
    page.get_by_label("Webhook 地址").fill("https://10.0.0.1/hook")
    page.get_by_label("签名密钥").fill("s" * 20)
    page.get_by_role("button", name="订阅", exact=True).click()
    expect(page.locator("#err-url")).to_be_visible()
    expect(page.get_by_label("Webhook 地址")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page)
    screenshot(page, "enterprise-subscription-error")


def test_an_admin_views_an_enterprise_and_controls_are_reachable_by_keyboard(page, world: World) -> None:
    browser_sign_in(page, world.keys["admin"])
    page.goto("/console/needs?lang=en")
    page.get_by_role("link", name="Enterprise", exact=True).click()
    page.get_by_label("Enterprise", exact=True).select_option("e2")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("link", name="RISC-V SoC design lead", exact=True)).to_be_visible()
    expect(page.get_by_text("shown to the enterprise's own keys only")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "enterprise-admin")
    page.context.clear_cookies()
    seed_alert(world.url)
    browser_sign_in(page, world.keys["e1"])
    page.goto("/console/enterprise?lang=en")
    text = tab_through(page, 120)
    fields = [f"s-{name}|" for name in ("need", "channel", "url", "secret", "email", "top_n", "min_score", "delivery")]
    for wanted in ("|Enterprise", "|Post a need", "Edit: ", "Mark alert", "|Unread", *fields, "|Subscribe"):
        assert wanted in text, f"{wanted!r} not reached by Tab:\n{text}"


def test_the_enterprise_pages_fit_a_phone_screen(page, world: World) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    browser_sign_in(page, world.keys["e1"])
    for path in ("/console/enterprise", "/console/enterprise/needs/new", "/console/enterprise/needs/n-pv/edit"):
        page.goto(path)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, path
    screenshot(page, "need-form-phone")
