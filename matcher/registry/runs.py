"""Logging a training run to MLflow: params, the model contract, metrics of the model and its baselines, plots, and
the booster with a signature. MLflow names may not contain ``@``, so ``lambdarank.ndcg@10`` is logged as
``lambdarank.ndcg_at_10`` (``metric_key``); listings translate back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from features.records import FeedbackEvent
from features.schema import SCHEMA, FeatureSchema
from matcher.ranker import EncoderId
from matcher.registry import store

if TYPE_CHECKING:  # matplotlib takes over a second to import: only training draws, never a server start
    from matplotlib.figure import Figure

MODEL_PATH = "model"
MODEL_URI_TAG = "talentmatch.model_uri"  # run tag: the logged model's URI (MLflow 3 logs models outside the run)
PROFILE_PATH = "reference_profile.json"
"""The run artifact with the training rows' ``matcher.drift.profile``: the reference drift is measured against."""
CONTRACT_TAGS = ("schema_version", "encoder", "encoder_version", "feature_names")
"""What a run and its model version record of the model contract (``feature_names``: a JSON list, in order)."""


def metric_key(name: str) -> str:
    """MLflow's name for a metric: ``lambdarank.ndcg@10`` → ``lambdarank.ndcg_at_10`` (``@`` is not allowed)."""
    return name.replace("@", "_at_")


def metric_name(key: str) -> str:
    """The inverse of ``metric_key``."""
    return key.replace("_at_", "@")


def heldout_fingerprint(need_ids: Sequence[str]) -> str:
    """A short hash of a held-out need set: two runs with the same fingerprint were evaluated on the same needs."""
    return hashlib.sha256("\n".join(sorted(need_ids)).encode()).hexdigest()[:16]


def feedback_window(feedback: Sequence[FeedbackEvent]) -> dict[str, object]:
    """The run parameters that record its training data window: ``feedback_from``/``feedback_to`` (ISO 8601, the
    first and last timed event) and ``feedback_events``. The next ``retrain`` and the report read "since" from here."""
    times = [ev.time for ev in feedback if ev.time is not None]
    window: dict[str, object] = {"feedback_events": len(feedback)}
    if times:
        window |= {"feedback_from": min(times).isoformat(), "feedback_to": max(times).isoformat()}
    return window


def synthetic_example(n_features: int, rows: int = 3) -> np.ndarray:
    """The input example MLflow logs with a model: a made-up grid (0, 0.5, 1 in every column), not anyone's row.
    It fixes the signature (float32 columns in schema order), which is all the example is for."""
    return np.repeat(np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None], n_features, axis=1)


def log_run(
    *,
    booster: lgb.Booster,
    params: Mapping[str, object],
    metrics: Mapping[str, Mapping[str, object]],
    encoder: EncoderId,
    input_example: np.ndarray | None = None,
    schema: FeatureSchema = SCHEMA,
    feature_importance: Mapping[str, float] | None = None,
    gain_curve_data: Mapping[str, Sequence[float]] | None = None,
    heldout_needs: Sequence[str] | None = None,
    artifacts: Mapping[str, object] | None = None,
) -> str:
    """Log one training run and its booster as a model; return the run id.

    ``metrics``: ``matcher.evaluate.evaluate``'s output — model name (``lambdarank`` and the baselines) → metric →
    value, logged as ``model.metric``, plus an optional ``"by_kind"``: post kind → metric → value, logged as
    ``by_kind.KIND.model.metric`` and plotted (NDCG@10 by kind, model against baselines). More sets (say, against
    feedback rather than truth) can ride along under prefixed model names such as ``feedback.lambdarank``.
    ``gain_curve_data``: model → mean cumulative gain at k = 1, 2, … on the held-out needs. ``feature_importance``
    defaults to the booster's total gain. ``input_example``: feature rows (n, F) in schema order, checked for their
    shape only: MLflow stores ``synthetic_example`` instead (a logged model is shared and kept; real rows would be
    talents' data outliving their erasure). ``heldout_needs``: the held-out need ids, fingerprinted so the gate can
    tell whether two runs were evaluated on the same needs. ``encoder``: the dense encoder of the indices the
    booster was trained on (``matcher.ranker.indices_encoder``); with the schema version and the ordered feature
    names, the model's contract. ``artifacts``: more JSON documents by artifact path, such as the shown training
    rows' ``reference_profile.json`` (``matcher.drift.profile``: what ``talentmatch report`` measures drift against)
    and ``exposure.json`` (``matcher.model_exposure``, for the model card); aggregates only, never rows.
    """
    names = schema.names
    if booster.feature_name() != names:
        raise ValueError(
            f"booster features {booster.feature_name()[:3]}… do not match schema {schema.version} "
            f"({len(names)} features: {names[:3]}…); train on features.matrix.feature_matrix columns with "
            "feature_name=SCHEMA.names"
        )
    if input_example is not None:
        shape = np.shape(input_example)
        if len(shape) != 2 or shape[1] != len(names) or shape[0] == 0:
            raise ValueError(f"input_example has shape {shape}; expected (n ≥ 1, {len(names)}) feature rows")
    example_df = pd.DataFrame(synthetic_example(len(names)), columns=names)
    by_kind: dict[str, dict[str, Mapping[str, float]]] = {}
    for model, values in metrics.items():
        for kind, per_kind in values.get("by_kind", {}).items():
            by_kind.setdefault(kind, {})[model] = per_kind
    overall = {model: {m: v for m, v in values.items() if m != "by_kind"} for model, values in metrics.items()}
    if feature_importance is None:
        feature_importance = dict(zip(names, booster.feature_importance("gain").tolist(), strict=True))

    path = store.sqlite_path(store.uri())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)  # before the client: it opens (creates) the store at once
    experiment_id = store.experiment_id(store.client())
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
        for path, doc in (artifacts or {}).items():
            mlflow.log_dict(doc, path)
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
        mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
        return run.info.run_id


def _flatten(metrics: Mapping[str, Mapping[str, float]], prefix: str = "") -> dict[str, float]:
    return {metric_key(f"{prefix}{model}.{m}"): float(v) for model, vs in metrics.items() for m, v in vs.items()}


def _importance_plot(importance: Mapping[str, float]) -> Figure:
    from matplotlib.figure import Figure

    pairs = sorted(importance.items(), key=lambda p: p[1])
    fig = Figure(figsize=(7, 0.22 * len(pairs) + 1))
    fig.subplots_adjust(left=0.32, right=0.97, top=1 - 0.4 / fig.get_figheight(), bottom=0.5 / fig.get_figheight())
    ax = fig.subplots()
    ax.barh([p[0] for p in pairs], [p[1] for p in pairs])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    return fig


def _by_kind_plot(by_kind: Mapping[str, Mapping[str, Mapping[str, float]]], metric: str = "ndcg@10") -> Figure:
    from matplotlib.figure import Figure

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
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for model, gains in curves.items():
        ax.plot(np.arange(1, len(gains) + 1), gains, label=model)
    ax.set_xlabel("k")
    ax.set_ylabel("mean cumulative gain")
    ax.set_title("Gain curve on held-out needs")
    ax.legend(fontsize="small")
    return fig
