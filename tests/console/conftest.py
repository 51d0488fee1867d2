"""Console fixtures: the ranking world in a real SQLite file, served by a real uvicorn on loopback (one server per
module: the tests read and add feedback, which changes no ranking), httpx clients, and for the browser tests a
chromium (Debian's, ``make system-deps``) driven by Playwright, with an axe-core check and a screenshot per page."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "service" / "api"))  # the API tests' helpers, reused

from api_helpers import run_server, settings_for
from console_helpers import CHROMIUM, World
from ranking_world import seed_ranking_world

from service.api.app import create_app


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests skip, saying why, only when there is no chromium to drive."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"no {CHROMIUM}: run `make system-deps` (apt: chromium fonts-wqy-microhei)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{tmp / 'console.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALENTMATCH_MODELS_DIR", str(tmp / "models"))  # an empty model store: non-personalised
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        keys = seed_ranking_world(url, tmp / "world")
        with run_server(create_app(settings_for(url, tmp))) as base:
            yield World(base, keys, url)


@pytest.fixture
def client(world: World) -> Iterator[httpx.Client]:
    """A cookie-keeping client of the server, not signed in, not following redirects."""
    with httpx.Client(base_url=world.base, timeout=30) as c:
        yield c


# --- the browser -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One chromium per test module. Not per session: Playwright's sync API keeps an event loop running in this
    thread while it is open, and every later test that calls ``asyncio.run`` (the app's start-up checks) would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, world: World) -> Iterator[object]:
    """A fresh browser context (no cookies) and page on the server."""
    context = browser.new_context(base_url=world.base, locale="zh-CN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()
