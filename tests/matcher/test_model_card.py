"""Every registered version has a model card in MLflow: ``train_and_register`` on a small demo world (real LightGBM,
real SQLite MLflow store), then the card is read back through the registry — the version's run artifact and its
description — with every section, the training data window, metrics by post kind and the exposure table."""

from __future__ import annotations

import json

import mlflow.artifacts
import pytest
from partb_world import demo

from features.schema import SCHEMA
from matcher import registry
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
