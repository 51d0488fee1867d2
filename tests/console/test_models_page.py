"""The data team's models page against a real server and a throwaway MLflow store with two real LightGBM versions
(the champion and a challenger, each run logging NDCG@10 by post kind): who may see it, the chart and its table,
promotion and rollback only after a confirmation the server checks (audited, and the serving model changes), over
HTTP and in a real browser (axe-checked, screenshots, keyboard)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import lightgbm as lgb
import numpy as np
import pytest
from api_helpers import run_server, settings_for
from console_helpers import World, browser_sign_in, check_accessibility, csrf_of, screenshot, sign_in
from playwright.sync_api import expect
from ranking_world import seed_ranking_world

from features.schema import SCHEMA
from matcher.ranker import NO_ENCODER
from service import audit
from service.api.app import create_app
from service.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]


def booster(seed: int) -> lgb.Booster:
    """A tiny real LambdaRank model on the schema's columns."""
    rng = np.random.default_rng(seed)
    X = rng.random((200, len(SCHEMA.names)), dtype=np.float32)
    y = np.digitize(X[:, SCHEMA.names.index("skill_coverage")], [0.5, 0.8])
    params = {"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": seed,
              "deterministic": True, "num_threads": 1}  # fmt: skip
    return lgb.train(params, lgb.Dataset(X, y, group=[20] * 10, feature_name=SCHEMA.names), num_boost_round=5)


def register(seed: int, ndcg: float, by_kind: dict[str, float], champion_score: float) -> str:
    """Log a run with NDCG@10 overall and by kind and register it (champion when it beats ``champion_score``)."""
    from matcher import registry

    kinds = {kind: {"ndcg@10": v} for kind, v in by_kind.items()}
    run_id = registry.log_run(booster=booster(seed), params={"seed": seed}, encoder=NO_ENCODER, heldout_needs=["n-pv"],
                              metrics={"lambdarank": {"ndcg@10": ndcg, "by_kind": kinds},
                                       "bm25": {"ndcg@10": 0.5}})  # fmt: skip
    return registry.register_and_gate(run_id, champion_score_fn=lambda scorer: champion_score).version


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The console's world, served with a model store holding champion v1 and challenger v2."""
    from matcher import registry

    tmp = tmp_path_factory.mktemp("models-console")
    url = f"sqlite:///{tmp / 'console.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALENTMATCH_MODELS_DIR", str(tmp / "models"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        registry.configure(tmp / "models")
        try:
            assert register(0, 0.7, {"enclave": 0.6, "full_time": 0.72}, champion_score=0.1) == "1"
            assert register(1, 0.8, {"enclave": 0.75, "full_time": 0.7}, champion_score=0.99) == "2"  # challenger
            keys = seed_ranking_world(url, tmp / "world")
            with run_server(create_app(settings_for(url, tmp))) as base:
                yield World(base, keys, url)
        finally:
            registry.configure()


def _changes(world: World) -> list[tuple[str, str, str]]:
    with Store(world.url) as store:
        return [(e.action, e.object_id, e.detail["previous"]) for e in audit.entries(store, object_kind="model")[0]]


def test_who_sees_the_models_page_and_what_it_shows(client: httpx.Client, world: World) -> None:
    for role in ("recruiter", "e1"):
        sign_in(client, world.keys[role])
        r = client.get("/console/models")
        assert r.status_code == 403 and "data_team" in r.text  # the API's message names the roles that may
        assert 'href="/console/models"' not in client.get("/console/needs").text  # no link either
        client.cookies.clear()
    sign_in(client, world.keys["data_team"])
    page = client.get("/console/models")
    assert page.status_code == 200 and "Server-Timing" in page.headers
    assert '<tr id="version-1" class="champion">' in page.text and "★ 冠军" in page.text
    assert re.search(r'id="champion-line">当前使用：v1 · 冠军模型：v1<', page.text)
    assert '<svg class="chart"' in page.text and 'role="img"' in page.text and "<title" in page.text
    table = page.text.split('<table class="by-kind">')[1].split("</table>")[0]  # the chart's text alternative
    assert re.search(r"飞地引才</th><td>0\.600</td><td>0\.750</td>", table)
    assert re.search(r"全职</th><td>0\.720</td><td>0\.700</td>", table)
    assert page.text.count("<circle") == 4  # two kinds × two versions
    assert "bm25 NDCG@10" in page.text and '<table class="runs">' in page.text


def test_promote_and_rollback_need_a_confirmation_the_server_checks(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["data_team"])
    confirm = client.get("/console/models/promote", params={"version": "2"})
    assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.text
    token = csrf_of(confirm.text)
    before = _changes(world)
    r = client.post("/console/models/promote", data={"csrf": token, "version": "2"})  # the box not ticked
    assert r.status_code == 422 and "请先勾选确认框" in r.text
    assert client.post("/console/models/promote", data={"version": "2", "confirm": "yes"}).status_code == 403  # CSRF
    assert _changes(world) == before and "冠军模型：v1" in client.get("/console/models").text
    assert client.get("/console/models/promote", params={"version": "9"}).status_code == 404
    assert client.get("/console/models/promote", params={"version": "v2"}).status_code == 422
    r = client.post("/console/models/promote", data={"csrf": token, "version": "2", "confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/console/models"
    page = client.get("/console/models")
    assert (
        "已将 v2 设为冠军（原为 v1），当前使用 v2" in page.text and '<tr id="version-2" class="champion">' in page.text
    )
    admin = {"Authorization": f"Bearer {world.keys['admin']}"}
    ranked = httpx.get(f"{world.base}/needs/n-pv/candidates", headers=admin, timeout=60).json()
    assert ranked["model_version"] == "2"  # this process reloaded at once
    assert client.post("/console/models/rollback", data={"csrf": token}).status_code == 422
    r = client.post("/console/models/rollback", data={"csrf": token, "confirm": "yes"})
    assert r.status_code == 303 and "已回滚：冠军为 v1（原为 v2）" in client.get("/console/models").text
    assert {("promote", "2", "1"), ("rollback", "1", "2")} <= set(_changes(world)) - set(before)  # audited
    again = client.post("/console/models/rollback", data={"csrf": token, "confirm": "yes"})
    assert again.status_code == 409 and "no previous champion" in again.text  # the registry's reason, as a page
    client.cookies.clear()
    sign_in(client, world.keys["recruiter"])
    token = csrf_of(client.get("/console/needs").text)
    r = client.post("/console/models/promote", data={"csrf": token, "version": "2", "confirm": "yes"})
    assert r.status_code == 403 and "冠军模型" not in r.text


@pytest.mark.browser
def test_a_data_team_key_promotes_and_rolls_back_in_the_browser(page, world: World) -> None:
    browser_sign_in(page, world.keys["data_team"])
    page.get_by_role("link", name="模型").click()
    expect(page.get_by_role("heading", name="模型", exact=True)).to_be_visible()
    expect(page.locator("#version-1")).to_contain_text("冠军")
    expect(page.get_by_role("img", name=re.compile("NDCG@10"))).to_be_visible()
    check_accessibility(page)
    screenshot(page, "models")
    page.get_by_label("版本", exact=True).select_option("2")
    page.get_by_role("button", name="设为冠军…").click()
    expect(page.get_by_role("heading", name="确认：将 v2 设为冠军模型")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "models-confirm")
    page.get_by_role("button", name="设为冠军", exact=True).click()  # not ticked: refused, nothing changed
    expect(page.get_by_role("alert")).to_contain_text("请先勾选确认框")
    page.get_by_label("我确认要执行此更改").check()
    page.get_by_role("button", name="设为冠军", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已将 v2 设为冠军")
    expect(page.locator("#version-2")).to_contain_text("冠军")
    expect(page.locator("#champion-line")).to_contain_text("当前使用：v2")
    page.get_by_role("link", name="回滚…").click()
    expect(page.get_by_role("heading", name="确认：回滚到上一个冠军模型")).to_be_visible()
    # by keyboard alone: the box, then the button
    page.get_by_label("我确认要执行此更改").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("已回滚：冠军为 v1")
    expect(page.locator("#champion-line")).to_contain_text("当前使用：v1")


@pytest.mark.browser
def test_the_models_page_controls_are_reachable_by_keyboard(page, world: World) -> None:
    browser_sign_in(page, world.keys["admin"])
    page.goto("/console/models?lang=en")
    reached: list[str] = []
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => { const e = document.activeElement; return (e.id || '') + '|' + "
                                     "(e.textContent || '').trim(); }"))  # fmt: skip
    text = "\n".join(reached)
    for wanted in ("|Models", "m-version|", "|Promote…", "|Roll back…"):
        assert wanted in text, f"{wanted!r} not reached by Tab:\n{text}"
