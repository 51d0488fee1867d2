"""The data team's page before any model is registered: it says so, offers no promotion, and rollback refuses with
the registry's reason (a page, never a 500)."""

from __future__ import annotations

import httpx
from console_helpers import World, csrf_of, sign_in


def test_the_models_page_without_a_registry(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["admin"])
    page = client.get("/console/models")
    assert page.status_code == 200 and "尚无注册的模型" in page.text and "当前使用：无" in page.text
    assert 'action="/console/models/promote"' not in page.text
    assert client.get("/console/models/promote", params={"version": "1"}).status_code == 404
    r = client.post("/console/models/rollback", data={"csrf": csrf_of(page.text), "confirm": "yes"})
    assert r.status_code == 409 and "no model registry" in r.text and r.headers["content-type"].startswith("text/html")
