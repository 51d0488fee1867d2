"""API fixtures: a store holding the small handmade world, one key per role, and a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import run_server, seed, settings_for
from fastapi import FastAPI

from service.api.app import create_app


@pytest.fixture(autouse=True)
def empty_model_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps load their champion from ``TALENTMATCH_MODELS_DIR``: an empty store per test, never the checkout's."""
    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def keys(sqlite_url: str, world_dir: Path) -> dict[str, str]:
    return seed(sqlite_url, world_dir)


@pytest.fixture
def app(sqlite_url: str, keys: dict[str, str], tmp_path: Path) -> FastAPI:
    return create_app(settings_for(sqlite_url, tmp_path))


@pytest.fixture
def server(app: FastAPI) -> Iterator[httpx.Client]:
    """An httpx client on a real uvicorn server serving ``app`` (SQLite, small world)."""
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client
