"""What the data team compares: every registered version with the evaluation its training run logged (the model and
the baselines, overall and by post kind: ``runs.log_run`` logs ``by_kind.KIND.model.metric``), and the latest
training runs, registered or not. Read-only; an absent store reads as empty.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run

from matcher.registry import store
from matcher.registry.loading import list_versions
from matcher.registry.runs import metric_name
from matcher.registry.store import EXPERIMENT

RUN_CHUNK = 50
"""Run ids per ``IN`` filter when fetching the runs of versions older than the latest runs."""


def model_report(runs: int = 10) -> dict[str, list[dict[str, Any]]]:
    """``{"versions": [...], "runs": [...]}``. Each version is a ``list_versions`` row plus ``evaluation`` (model →
    metric → value, e.g. ``lambdarank`` → ``ndcg@10``; baselines and the ``feedback.*`` sets too) and ``by_kind``
    (post kind → model → metric → value) from its run. ``runs``: the latest ``runs`` training runs, newest first,
    each with its id, start and end (ISO 8601, UTC), status, parameters, the same two evaluations and the version it
    registered (``None``: none)."""
    if store.missing():
        return {"versions": [], "runs": []}
    client = store.client()
    versions = list_versions()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return {"versions": [_with_run(v, None) for v in versions], "runs": []}
    ids = [experiment.experiment_id]
    latest = client.search_runs(ids, order_by=["attributes.start_time DESC"], max_results=runs) if runs else []
    by_id = {r.info.run_id: r for r in latest}
    older = sorted({v["run_id"] for v in versions if v["run_id"] and v["run_id"] not in by_id})
    by_id |= _runs(client, ids, older)
    registered = {v["run_id"]: v["version"] for v in versions}
    return {
        "versions": [_with_run(v, by_id.get(v["run_id"])) for v in versions],
        "runs": [_run_row(r, registered.get(r.info.run_id)) for r in latest],
    }


def _runs(client: MlflowClient, experiment_ids: list[str], run_ids: list[str]) -> dict[str, Run]:
    out: dict[str, Run] = {}
    for start in range(0, len(run_ids), RUN_CHUNK):
        chunk = run_ids[start : start + RUN_CHUNK]
        quoted = ", ".join(f"'{r}'" for r in chunk)  # MLflow run ids are hex: nothing to escape
        found = client.search_runs(experiment_ids, f"attributes.run_id IN ({quoted})", max_results=len(chunk))
        out |= {r.info.run_id: r for r in found}
    return out


def evaluation(metrics: dict[str, float]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """A run's logged metrics as (model → metric → value, post kind → model → metric → value). Model names may hold
    dots (``feedback.lambdarank``); metric and kind names do not."""
    overall: dict[str, dict[str, float]] = {}
    by_kind: dict[str, dict[str, dict[str, float]]] = {}
    for key, value in metrics.items():
        name = metric_name(key)
        if name.startswith("by_kind."):
            _, kind, rest = name.split(".", 2)
            model, _, metric = rest.rpartition(".")
            by_kind.setdefault(kind, {}).setdefault(model, {})[metric] = value
        else:
            model, _, metric = name.rpartition(".")
            overall.setdefault(model, {})[metric] = value
    return overall, by_kind


def _with_run(version: dict[str, Any], run: Run | None) -> dict[str, Any]:
    overall, by_kind = evaluation(run.data.metrics) if run is not None else ({}, {})
    return version | {"evaluation": overall, "by_kind": by_kind}


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _run_row(run: Run, version: str | None) -> dict[str, Any]:
    overall, by_kind = evaluation(run.data.metrics)
    return {
        "run_id": run.info.run_id,
        "started": _iso(run.info.start_time),
        "ended": _iso(run.info.end_time),
        "status": run.info.status,
        "params": dict(run.data.params),
        "evaluation": overall,
        "by_kind": by_kind,
        "version": version,
    }
