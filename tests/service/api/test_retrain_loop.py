"""The retraining loop on a real server, a real SQLite file and a real MLflow store in a temporary folder.

A demo world (300 talents, 40 needs) without its historical feedback is served by a toy champion that ranks by skill
coverage and tier. Simulated recruiters rank every need and act through the API on what they see, preferring
the talents with the most publications. ``talentmatch retrain`` learns that from the receipts, beats the champion on
the same held-out rows and is served after ``POST /models/reload``; every ranking after it records the new version.
A model made useless on purpose is refused by the gate and the champion stays. The join uses the feature values
shown, not today's; erased talents and another schema's receipts drop out; ``--dry-run`` writes nothing.
"""

from __future__ import annotations

import math

import httpx
import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, settings_for
from test_models_routes import register
from typer.testing import CliRunner

from features.schema import SCHEMA
from matcher.evaluate import split_needs
from service.api.app import create_app
from service.keys import create_key
from service.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]

PUBS = SCHEMA.index("log_publications")


@pytest.fixture
def loop(tmp_path, monkeypatch):
    """(client, headers, url, first champion version, settings) of a served demo world without feedback."""
    from demo.world import generate_world
    from matcher import registry

    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TALENTMATCH_ENCODER", "none")
    monkeypatch.setenv("TALENTMATCH_VECTOR_CACHE_DIR", str(tmp_path / "vectors"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    registry.configure(tmp_path / "models")
    first = register(0)
    world = tmp_path / "world"
    generate_world(world, talents=300, needs=40, seed=3)
    (world / "feedback.jsonl").unlink()  # no history: every label comes through the API
    url = f"sqlite:///{tmp_path / 'api.db'}"
    with Store(url) as store:
        assert store.import_path(world).ok
        keys = {role: create_key(store, role) for role in ("recruiter", "data_team", "admin")}
    settings = settings_for(url, tmp_path)
    try:
        with run_server(create_app(settings)) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield client, {k: auth(v) for k, v in keys.items()}, url, first, settings
    finally:
        registry.configure()


def needs(client, h) -> list[str]:
    return [n["id"] for n in client.get("/needs", headers=h["data_team"], params={"limit": 100}).json()["items"]]


def recruit(client, h, need_ids, version: str) -> tuple[int, list[str]]:
    """Rank every need and act like a recruiter who wants publications: contact the most published talent shown,
    shortlist the next two. Returns the feedback events posted and the needs acted on; checks each ranking records
    ``version``."""
    posted, acted = 0, []
    for need_id in need_ids:
        page = client.get(f"/needs/{need_id}/candidates", headers=h["recruiter"], params={"k": 20}).json()
        assert page["model_version"] == version
        receipt = client.get(f"/rankings/{page['ranking_id']}", headers=h["data_team"]).json()
        assert receipt["model_version"] == version
        cands = receipt["candidates"]
        if len(cands) < 4:
            continue
        acted.append(need_id)
        pubs = np.array([c["features"]["log_publications"] for c in cands])
        for rank, i in enumerate(np.argsort(-pubs, kind="stable")[:3]):
            body = {"need_id": need_id, "talent_id": cands[i]["talent_id"], "ranking_id": page["ranking_id"],
                    "action": "contact" if rank == 0 else "shortlist"}  # fmt: skip
            r = client.post("/feedback", headers=h["recruiter"], json=body)
            assert r.status_code == 201, r.text
            assert r.json()["model_version"] == version
            posted += 1
    return posted, acted


def runs_and_versions() -> tuple[int, int]:
    from mlflow import MlflowClient

    from matcher import registry

    client = MlflowClient()
    experiment = client.get_experiment_by_name(registry.EXPERIMENT)
    runs = len(client.search_runs([experiment.experiment_id])) if experiment else 0
    return runs, len(registry.list_versions())


def cli(*args: str):
    from service.cli import app

    return CliRunner().invoke(app, ["retrain", *args])


def test_feedback_through_the_api_retrains_a_served_champion_and_a_useless_model_is_refused(loop):
    from matcher import registry
    from service.retraining import retrain

    client, h, url, first, settings = loop
    ids = needs(client, h)
    assert len(ids) == 40
    empty = cli("--url", url, "--dry-run")  # no feedback at all: one line, no traceback
    assert empty.exit_code == 1 and isinstance(empty.exception, SystemExit)
    assert "0 need(s) have usable feedback" in empty.output
    posted, acted = recruit(client, h, ids, first)
    assert posted >= 90

    before = runs_and_versions()
    dry = cli("--url", url, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    planned = orjson.loads(dry.stdout)
    assert planned["dry_run"] and (planned["events"], planned["new_events"]) == (posted, posted)
    assert planned["rows"]["receipts"] > 300 and planned["heldout_needs"] == split_needs(acted).test
    table = cli("--url", url, "--dry-run")
    assert table.exit_code == 0 and "dry run: nothing trained, nothing written" in table.output
    assert f"{posted} ({posted})" in table.output and planned["heldout_needs"][0] in table.output
    assert runs_and_versions() == before  # no MLflow run, no version

    result = cli("--url", url, "--json")
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert summary["alias"] == "champion", summary["gate"]
    assert summary["rows"]["receipts"] > 300 and summary["rows"]["recomputed"] == 0
    assert summary["new_score"] > summary["champion_score"]
    second = summary["version"]
    with Store(url) as store, store.engine.connect() as conn:
        newest = conn.scalar(sa.text("select max(time) from feedback"))
        mark = registry.last_watermark(store.identity())
        assert mark.seq == summary["new_watermark_seq"] == store.change_head()  # nothing written since
    assert mark.time.isoformat()[:19] == str(newest).replace(" ", "T")[:19]

    reload = client.post("/models/reload", headers=h["admin"]).json()
    assert (reload["serving"], reload["previous"], reload["changed"]) == (second, first, True)
    assert recruit(client, h, ids[:20], second)[0] > 0  # every ranking now records the new version

    useless = retrain(Store(url), settings, params={"n_estimators": 1, "min_child_samples": 100_000}, encoder="none")
    assert useless["alias"] == "challenger" and useless["champion_before"] == second, useless["gate"]
    assert useless["new_score"] < useless["champion_score"]
    assert useless["heldout"]["champion_trained"] == 0  # held out: the champion's own and needs new since it
    reload = client.post("/models/reload", headers=h["admin"]).json()
    assert (reload["serving"], reload["champion"], reload["changed"]) == (second, second, False)

    again = cli("--url", url)
    assert again.exit_code == 1 and isinstance(again.exception, SystemExit)
    assert "no feedback recorded since the last training run" in again.output


def test_the_join_uses_the_values_shown_and_drops_erased_talents_and_other_schemas(loop):
    from matcher.receipt_rows import join_receipts
    from service.retraining import read_pages, retrain

    client, h, url, _, settings = loop
    ids = needs(client, h)
    shown: dict[str, dict] = {}
    for need_id in ids[:6]:
        page = client.get(f"/needs/{need_id}/candidates", headers=h["recruiter"], params={"k": 10}).json()
        if len(page["candidates"]) >= 3:
            shown[need_id] = page
    assert len(shown) >= 4
    (n1, p1), (n2, p2), (n3, p3) = list(shown.items())[:3]
    for need_id, page in shown.items():
        for c in page["candidates"][:2]:
            body = {"need_id": need_id, "talent_id": c["talent_id"], "ranking_id": page["ranking_id"],
                    "action": "shortlist"}  # fmt: skip
            assert client.post("/feedback", headers=h["recruiter"], json=body).status_code == 201

    # After the page was shown, talent 0 of need 1 publishes 500 more papers: today's feature is not the shown one.
    changed = p1["candidates"][0]["talent_id"]
    record = client.get(f"/talents/{changed}", headers=h["admin"]).json()
    was = record.get("publication_count") or 0
    record["publication_count"] = was + 500
    assert client.put(f"/talents/{changed}", headers=h["admin"], json=record).status_code == 200
    erased = p2["candidates"][2]["talent_id"]
    assert erased not in {c["talent_id"] for p in shown.values() for c in p["candidates"][:2]}  # never acted on
    assert client.delete(f"/talents/{erased}", headers=h["admin"]).status_code == 200
    with Store(url) as store:
        with store.engine.begin() as conn:
            conn.execute(sa.text("update rankings set schema_version = '0' where id = :id"), {"id": p3["ranking_id"]})
        feedback = list(store.iter_records("feedback"))
        pages = read_pages(store, {ev.ranking_id for ev in feedback})
        before = runs_and_versions()
        dry = retrain(store, settings, dry_run=True, encoder="none")
        assert runs_and_versions() == before
    joined = join_receipts(feedback, pages)
    data = joined.data
    pairs = list(zip(np.repeat(data.need_ids, data.group).tolist(), data.talent_ids, strict=True))
    row = [i for i, pair in enumerate(pairs) if pair == (n1, changed)]
    assert len(row) == 1
    assert data.X[row[0], PUBS] == pytest.approx(math.log1p(was), abs=1e-5)  # as shown, not log1p(was + 500)
    assert (n2, erased) not in pairs and any(n == n2 for n, _ in pairs)
    shown_erased = sum(erased in {c["talent_id"] for c in p["candidates"]} for n, p in shown.items() if n != n3)
    assert joined.skipped["erased"] == shown_erased == dry["skipped"]["erased"] >= 1
    assert n3 not in data.need_ids
    assert joined.skipped["other_schema"] == len(p3["candidates"]) == dry["skipped"]["other_schema"]
    assert dry["dry_run"] and dry["watermark_seq"] is None and dry["rows"]["receipts"] == len(data)
