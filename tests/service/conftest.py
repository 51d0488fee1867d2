"""Fixtures of the service tests that train: a model registry of their own."""

from pathlib import Path

import pytest


@pytest.fixture
def registry_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from matcher import registry

    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    registry.configure(tmp_path / "models")
    yield tmp_path / "models"
    registry.configure()
