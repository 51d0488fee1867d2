"""Where the registry lives: ``MLFLOW_TRACKING_URI`` when set (a tracking server or another store), else a SQLite file
``<models_dir>/mlflow.db`` with artifacts in ``<models_dir>/artifacts`` (``TALENTMATCH_MODELS_DIR``, default
``models`` under the working directory). Reading never creates a missing SQLite store (``missing``/``require``).

MLflow is imported only by what needs it (``client``): saying where the store is, and serving's champion from a
SQLite store (``loading.serving_model``), do not wait seconds for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from mlflow import MlflowClient

MODEL_NAME = "talent-ranker"
EXPERIMENT = "talentmatch"


class RegistrySettings(BaseSettings):
    """Where the default local store lives (``TALENTMATCH_MODELS_DIR``)."""

    model_config = SettingsConfigDict(env_prefix="TALENTMATCH_", env_file=".env", extra="ignore")
    models_dir: Path = Path("models")


class RegistryError(Exception):
    """A registry operation a user asked for cannot be done; the message says why and how to fix it."""


class ModelMismatch(RegistryError):
    """A model's contract (feature schema, ordered feature names, dense encoder) does not match this code or the
    serving indices; the message names both sides."""


_uri: str | None = None
_registry_uri: str | None = None
_pointed = False


def configure(models_dir: str | Path | None = None) -> str:
    """Point MLflow at the store and return its URI.

    Precedence: an explicit ``models_dir``; else ``MLFLOW_TRACKING_URI`` (with ``MLFLOW_REGISTRY_URI`` when set,
    MLflow's own variables); else ``TALENTMATCH_MODELS_DIR`` / ``models`` under the working directory. MLflow's
    global URIs are set now when MLflow is loaded, else by ``client`` before first use.
    """
    global _uri, _registry_uri, _pointed
    if models_dir is None and os.environ.get("MLFLOW_TRACKING_URI"):
        uri = os.environ["MLFLOW_TRACKING_URI"]
        registry_uri = os.environ.get("MLFLOW_REGISTRY_URI") or uri
    else:
        root = Path(models_dir) if models_dir is not None else RegistrySettings().models_dir
        uri = registry_uri = f"sqlite:///{(root.expanduser().absolute() / 'mlflow.db').as_posix()}"
    _uri, _registry_uri, _pointed = uri, registry_uri, False
    if "mlflow" in sys.modules:
        _point_mlflow()
    return uri


def _point_mlflow() -> None:
    """Set MLflow's global tracking and registry URIs (what ``mlflow.start_run`` and ``models:/`` URIs use) to ours."""
    import mlflow

    global _pointed
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri())
    mlflow.set_registry_uri(_registry_uri)
    # mlflow exports both URIs to the environment; restore the caller's, so a store chosen here (say, a test's
    # temporary one) does not leak into subprocesses or later configure() calls.
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _pointed = True


def uri() -> str:
    """The store's URI (configured from the environment on first use)."""
    return _uri or configure()


def client() -> MlflowClient:
    from mlflow import MlflowClient

    if not _pointed:
        _point_mlflow()
    return MlflowClient(tracking_uri=uri(), registry_uri=_registry_uri)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for any other store)."""
    if not uri.startswith("sqlite:"):
        return None
    database = make_url(uri).database
    return Path(database) if database and database != ":memory:" else None


def missing() -> str | None:
    """Why there is no store to read (a SQLite URI whose file does not exist), without creating one as a side
    effect: opening a SQLite store creates the file and runs MLflow's migrations."""
    path = sqlite_path(uri())
    if path is not None and not path.is_file():
        return f"no model registry at {path} (run `talentmatch train` first, or set MLFLOW_TRACKING_URI)"
    return None


def experiment_id(client: MlflowClient) -> str:
    """The ``talentmatch`` experiment, created on first use; a SQLite store keeps artifacts beside its file."""
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    path = sqlite_path(uri())
    location = (path.parent / "artifacts").as_uri() if path is not None else None
    return client.create_experiment(EXPERIMENT, artifact_location=location)


def require() -> MlflowClient:
    """A client on an existing store (opening a missing SQLite store would create an empty one)."""
    why = missing()
    if why:
        raise RegistryError(why)
    return client()
