"""Console test helpers: sign in (httpx and browser), the CSRF token of a page, the axe-core check, screenshots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

CHROMIUM = Path("/usr/bin/chromium")
VENDOR = Path(__file__).parents[2] / "service" / "console" / "static" / "vendor"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "console"


class World:
    """A served ranking world: its base URL, one key per role, the database URL."""

    def __init__(self, base: str, keys: dict[str, str], url: str) -> None:
        self.base, self.keys, self.url = base, keys, url


def sign_in(client: httpx.Client, key: str) -> httpx.Response:
    """Sign ``client`` in through the form (taking the CSRF token from it, as a browser would)."""
    form = client.get("/console/signin")
    return client.post("/console/signin", data={"csrf": csrf_of(form.text), "key": key, "next": "/console/needs"})


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def browser_sign_in(pg, key: str, lang: str | None = None) -> None:
    pg.goto("/console/needs" + (f"?lang={lang}" if lang else ""))
    label = "API key" if lang == "en" else "API 密钥"
    pg.get_by_label(label).fill(key)
    pg.get_by_role("button", name="Sign in" if lang == "en" else "登录").click()
    pg.wait_for_url(re.compile(r"/console/needs"))


def check_accessibility(pg) -> None:
    """Run the vendored axe-core on the page; no serious or critical violation may remain."""
    pg.add_script_tag(content=(VENDOR / "axe.min.js").read_text())
    result = pg.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    summary = [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]} for v in bad]
    assert not bad, json.dumps(summary, ensure_ascii=False, indent=1)


def screenshot(pg, name: str) -> Path:
    """Save the whole page as ``test-artifacts/console/<name>.png`` (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def tab_through(pg, presses: int) -> str:
    """Press Tab ``presses`` times and say what had focus each time, one ``id|accessible text`` per line."""
    reached = []
    for _ in range(presses):
        pg.keyboard.press("Tab")
        reached.append(pg.evaluate(
            "() => { const e = document.activeElement; return (e.id || '') + '|' + (e.getAttribute('aria-label') "
            "|| e.textContent || e.getAttribute('name') || '').trim(); }"
        ))  # fmt: skip
    return "\n".join(reached)
