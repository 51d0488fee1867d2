"""A server start loads its champion without importing what only training needs: MLflow (with alembic), LightGBM's
Python package (with scikit-learn and pandas), matplotlib. Together they were most of a restart's seconds; a fresh
process runs the start (the app factory ``serve --workers`` uses, its lifespan: indices, champion, alerts, sync) and
reports what it imported (the app alone imports neither httpx nor jieba). The served booster scores as LightGBM's
own does."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from ranking_world import seed_ranking_world

from features.schema import SCHEMA
from matcher.booster import ServingBooster
from matcher.scorer import NO_ENCODER

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]

HEAVY = ("mlflow", "alembic", "lightgbm", "sklearn", "pandas", "matplotlib")
LATER = ("httpx", "jieba")
"""Not imported with the app: httpx only posts webhooks (the test client below imports it itself), jieba loads in the
start's own thread (``features.text.preload``) beside the snapshot load."""

START = f"""
import json, sys
from service.api.server import app_from_environment
app = app_from_environment()
later = sorted(m for m in {LATER!r} if m in sys.modules)
from fastapi.testclient import TestClient
with TestClient(app) as client:
    ready = client.get("/readyz").json()
    pool = client.get("/needs/n-pv/candidates?k=5", headers={{"Authorization": "Bearer " + sys.argv[1]}}).json()
print(json.dumps({{"ready": ready, "scores": [c["score"] for c in pool["candidates"]], "later": later,
                  "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""


def booster(seed: int = 0) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    X = rng.random((400, len(SCHEMA.names)), dtype=np.float32)
    y = np.digitize(X[:, SCHEMA.names.index("skill_coverage")], [0.5, 0.8, 0.95])
    params = {"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": seed,
              "deterministic": True, "num_threads": 1}  # fmt: skip
    return lgb.train(params, lgb.Dataset(X, y, group=[20] * 20, feature_name=SCHEMA.names), num_boost_round=10)


@pytest.fixture
def champion_world(tmp_path: Path):
    from matcher import registry

    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    registry.configure(tmp_path / "models")
    try:
        example = np.zeros((2, len(SCHEMA.names)), dtype=np.float32)
        run_id = registry.log_run(booster=booster(), params={"seed": 0}, metrics={"lambdarank": {"ndcg@10": 0.9}},
                                  input_example=example, heldout_needs=["n-pv"], encoder=NO_ENCODER)  # fmt: skip
        version = registry.register_and_gate(run_id, champion_score_fn=lambda scorer: 0.1).version
    finally:
        registry.configure()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TALENTMATCH_DATABASE_URL": url,
        "TALENTMATCH_ENCODER": "none",
        "TALENTMATCH_MODELS_DIR": str(tmp_path / "models"),
        "TALENTMATCH_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
        "TALENTMATCH_VECTOR_CACHE_DIR": str(tmp_path / "vectors"),
        "TALENTMATCH_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    return env, keys["recruiter"], version, tmp_path


def start(env: dict, key: str, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", START, key], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_start_serves_the_champion_without_importing_the_training_side(champion_world):
    env, key, version, tmp = champion_world
    for attempt in ("built", "from the snapshot"):
        got = start(env, key, tmp)
        assert got["ready"]["status"] == "ready" and got["ready"]["model"] == version, (attempt, got["ready"])
        assert got["ready"]["snapshot"] is None if attempt == "built" else got["ready"]["snapshot"]
        assert got["heavy"] == [], f"a start ({attempt}) imported {got['heavy']}"
        assert got["later"] == [], f"the app ({attempt}) imported {got['later']} before its start"
        assert len(list((tmp / "vectors").glob("jieba-*.dict"))) == 1  # kept in the data dir, not the temp dir
        assert got["scores"] and len(set(got["scores"])) > 1  # personalised: the booster scored


def test_the_serving_booster_scores_and_explains_as_lightgbm_does(tmp_path):
    model = booster(3)
    model.save_model(tmp_path / "model.lgb")
    served, reference = ServingBooster(tmp_path / "model.lgb"), lgb.Booster(model_file=tmp_path / "model.lgb")
    X = np.random.default_rng(1).random((257, len(SCHEMA.names)), dtype=np.float32)
    assert served.feature_name() == reference.feature_name() == SCHEMA.names
    assert np.array_equal(served.predict(X, num_threads=1), reference.predict(X, num_threads=1))
    contributions = served.predict(X, pred_contrib=True, num_threads=1)
    assert contributions.shape == (257, len(SCHEMA.names) + 1)
    assert np.array_equal(contributions, reference.predict(X, pred_contrib=True, num_threads=1))
    assert served.feature_importance("gain").tolist() == reference.feature_importance("gain").tolist()
    assert np.array_equal(pickle.loads(pickle.dumps(served)).predict(X), reference.predict(X))
    with pytest.raises(Exception, match="features"):
        served.predict(X[:, :3])
    (tmp_path / "broken.lgb").write_text("not a model")
    with pytest.raises(Exception, match=r"(?i)model"):
        ServingBooster(tmp_path / "broken.lgb")
