"""Every registered version has a model card in MLflow: ``train_and_register`` on a small demo world (real LightGBM,
real SQLite MLflow store), then the card is read back through the registry — the version's run artifact and its
description — with every section, the training data window, metrics by post kind and the exposure table."""

from __future__ import annotations

import json

import lightgbm as lgb
import mlflow.artifacts
import numpy as np
import pytest
from partb_world import demo

from features.schema import SCHEMA
from matcher import registry
from matcher.ranker import NO_ENCODER
from matcher.registry.card import CARD_PATH
from matcher.registry.runs import PROFILE_PATH
from matcher.workflow import train_and_register

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]


def test_the_registered_version_carries_its_model_card(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry.configure()
    d = demo()
    feedback = list(d.world["feedback"])
    summary = train_and_register(d.idx, feedback, truth=d.truth, params={"n_estimators": 20})
    client = registry.store.client()
    mv = client.get_model_version(registry.MODEL_NAME, summary["version"])
    card = mlflow.artifacts.load_text(f"runs:/{mv.run_id}/{CARD_PATH}")
    assert mv.description == card
    for section in ("## Intended use", "## Training data", "## Metrics by post kind", "## Exposure", "## Known limits"):
        assert section in card
    assert f"version {summary['version']}" in card and "**champion**" in card
    times = sorted(ev.time for ev in feedback if ev.time is not None)
    assert f"Feedback from {times[0].isoformat()} to {times[-1].isoformat()} ({len(feedback)} events)" in card
    kinds = {n.kind.value for n in d.world["need"]}
    assert any(f"| {kind} | lambdarank |" in card for kind in kinds)
    assert "| nationality |" in card and "| tier |" in card and "| incubator |" in card

    reference = json.loads(mlflow.artifacts.load_text(f"runs:/{mv.run_id}/{PROFILE_PATH}"))
    assert set(reference) == set(SCHEMA.names)
    assert reference["kind_full_time"]["kind"] == "categorical" and reference["bm25_profile"]["n"] > 0


def test_training_leaves_an_explicitly_configured_store_in_place(tmp_path, monkeypatch) -> None:
    """A caller that pointed the registry at a folder of its own (a notebook, a bench) keeps it: training registers
    there and reports it, and does not fall back to the environment's store."""
    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mine = registry.configure(tmp_path / "mine")
    d = demo()
    summary = train_and_register(d.idx, list(d.world["feedback"]), truth=d.truth, params={"n_estimators": 5})
    assert summary["tracking_uri"] == mine == registry.uri()
    assert registry.champion_version() == summary["version"]
    assert not (tmp_path / "elsewhere").exists()


def test_a_run_that_logged_no_window_or_exposure_gets_a_card_that_says_so(tmp_path) -> None:
    """Any path through ``register_and_gate`` gets a card, even from a bare ``log_run``; what it lacks is said."""
    registry.configure(tmp_path / "models")
    rng = np.random.default_rng(0)
    X = rng.random((200, len(SCHEMA.names)))
    data = lgb.Dataset(X, rng.integers(0, 3, 200), group=[20] * 10, feature_name=SCHEMA.names)
    booster = lgb.train({"objective": "lambdarank", "verbose": -1, "min_data_in_leaf": 5}, data, num_boost_round=3)
    run_id = registry.log_run(
        booster=booster,
        params={},
        metrics={"lambdarank": {"ndcg@10": 0.5, "by_kind": {"enclave": {"ndcg@10": 0.4}}}},
        encoder=NO_ENCODER,
    )
    gate = registry.register_and_gate(run_id)
    card = mlflow.artifacts.load_text(f"runs:/{run_id}/{CARD_PATH}")
    assert f"version {gate.version}" in card
    assert "Training data window: not recorded by this run." in card
    assert "No exposure figures were logged with this run." in card
    assert "| enclave | lambdarank | 0.400 | – | – |" in card
