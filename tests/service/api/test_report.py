"""``talentmatch report`` end to end: a small generated world in a real SQLite file, the real console script, a
model trained from the database, rankings served by the real API on loopback — only for enclave posts, a deliberate
shift of the post-kind features against the training rows — and the HTML parsed back: its sections, the PSI flag on
``kind_enclave``, the exposure table and the retrain line. Before any ranking or model the report still comes out,
saying what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from api_helpers import auth, run_server, settings_for

from demo.world import generate_world
from features.io import load_world
from matcher import registry
from service.api.app import create_app
from service.keys import create_key
from service.store import Store

TALENTMATCH = Path(sys.executable).with_name("talentmatch")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]
SECTIONS = {"retrain", "drift", "feedback", "exposure"}


class Page(HTMLParser):
    """Section ids, the PSI table's rows (feature → (classes, reading)), table ids, images and the advice line."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: set[str] = set()
        self.tables: set[str] = set()
        self.images: list[str] = []
        self.psi: dict[str, str] = {}
        self.advice = ""
        self._in_advice = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.add(a["id"] or "")
        elif tag == "table":
            self.tables.add(a.get("id") or "")
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "tr" and "data-feature" in a:
            self.psi[a["data-feature"] or ""] = a.get("class") or ""
        elif tag == "p" and a.get("id") == "advice":
            self._in_advice = True

    def handle_endtag(self, tag: str) -> None:
        self._in_advice = self._in_advice and tag != "p"

    def handle_data(self, data: str) -> None:
        if self._in_advice:
            self.advice += data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def talentmatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "MLFLOW_DISABLE_TELEMETRY": "true",
           "TALENTMATCH_VECTOR_CACHE_DIR": str(cwd / "vectors")}  # fmt: skip
    return subprocess.run([str(TALENTMATCH), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_report_on_a_served_world(tmp_path: Path) -> None:
    registry.configure()  # the models folder of this test (conftest's empty_model_registry)
    world = tmp_path / "world"
    generate_world(world, talents=400, seed=5)
    url = f"sqlite:///{tmp_path / 'tm.db'}"
    with Store(url) as store:
        assert store.import_path(world).ok
        recruiter = create_key(store, "recruiter")
    enclave = [n.id for n in load_world(world)["need"] if n.kind.value == "enclave"]
    assert enclave

    # Nothing served, no model: the report is still written and says what is missing.
    done = talentmatch("report", "--url", url, "--out", str(tmp_path / "empty.html"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["retrain"] and "no champion" in summary["line"]
    assert any("No rankings were served" in n for n in summary["notes"])
    empty = parse(tmp_path / "empty.html")
    assert empty.sections == SECTIONS and "psi" not in empty.tables and "rates" in empty.tables

    trained = talentmatch("train", "--url", url, "--encoder", "none", "--json", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["alias"] == "champion"

    app = create_app(settings_for(url, tmp_path))
    with run_server(app) as base, httpx.Client(base_url=base, timeout=60, headers=auth(recruiter)) as client:
        for need_id in enclave:
            page = client.get(f"/needs/{need_id}/candidates", params={"k": 20})
            assert page.status_code == 200, page.text
            body = page.json()
            for c in body["candidates"][:2]:
                fb = {"need_id": need_id, "talent_id": c["talent_id"], "action": "shortlist",
                      "ranking_id": body["ranking_id"], "position": c["position"]}  # fmt: skip
                assert client.post("/feedback", json=fb).status_code == 201

    out = tmp_path / "reports" / "report.html"
    done = talentmatch("report", "--url", url, "--out", str(out), "--since", "1d", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rankings"] == len(enclave)
    assert "kind_enclave" in summary["flagged"] and summary["retrain"]
    page = parse(out)
    assert page.sections == SECTIONS
    assert {"psi", "rates", "exposure-table"} <= page.tables
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "flagged" in page.psi["kind_enclave"]
    assert page.advice.startswith("Retrain: PSI above 0.25") and "kind_enclave" in page.advice
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained
    assert ">nationality<" in html and ">enclave<" in html


def test_bad_since_and_unreadable_database(tmp_path: Path) -> None:
    bad = talentmatch("report", "--since", "yesterday", "--out", str(tmp_path / "r.html"), cwd=tmp_path)
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "r.html").exists()
    missing = tmp_path / "none.db"
    done = talentmatch("report", "--url", f"sqlite:///{missing}", "--out", str(tmp_path / "r.html"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "has no talentmatch tables" in done.stderr and not missing.exists()
    assert "No database" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_report_of_a_world_folder(tmp_path: Path) -> None:
    """A world folder has no receipts: the shown candidates are its impression events; drift is said to be missing."""
    world = tmp_path / "world"
    generate_world(world, talents=300, seed=2)
    out = tmp_path / "world.html"
    done = talentmatch("report", "--world", str(world), "--out", str(out), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert "no champion" in summary["line"] and any("impression events" in n for n in summary["notes"])
    impressions = sum(1 for ev in load_world(world)["feedback"] if ev.action.value == "impression")
    page = parse(out)
    assert page.sections == SECTIONS and {"rates", "exposure-table"} <= page.tables and "psi" not in page.tables
    assert f"{impressions} shown candidates" in out.read_text(encoding="utf-8")
