"""The gate and the aliases: a new version becomes ``champion`` only when it beats the current champion **on the same
held-out needs** by more than a margin (``challenger`` otherwise); ``promote`` and ``rollback`` move the alias by hand
along the champion history. A version that does not load never gets an alias.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from matcher.ranker import Scorer
from matcher.registry import store
from matcher.registry.card import write_card
from matcher.registry.loading import CHALLENGER, CHAMPION, alias_version, list_versions, load, load_version
from matcher.registry.runs import CONTRACT_TAGS, MODEL_URI_TAG, metric_key, metric_name
from matcher.registry.store import MODEL_NAME, RegistryError

log = logging.getLogger("matcher.registry")

HISTORY_TAG = "champion_history"  # registered-model tag: JSON list of champion versions, oldest first
HISTORY_KEEP = 50


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

    def summary(self) -> dict[str, object]:
        """The gate's part of a training run's JSON summary (``train`` and ``retrain`` alike)."""
        return {"version": self.version, "alias": self.alias, "champion_before": self.champion_before,
                "gate": self.reason, "new_score": self.new_score, "champion_score": self.champion_score}  # fmt: skip


@dataclass(frozen=True)
class AliasChange:
    """The champion after ``promote`` or ``rollback``, and the one it replaced."""

    champion: str
    previous: str | None


def register_and_gate(
    run_id: str,
    *,
    metric: str = "lambdarank.ndcg@10",
    margin: float = 0.0,
    new_score: float | None = None,
    champion_score_fn: Callable[[Scorer], float] | None = None,
    require_online_win: bool = False,
) -> GateResult:
    """Register the run's booster as a new ``talent-ranker`` version; make it ``champion`` only if it beats the
    current champion by more than ``margin`` on the same held-out needs, else ``challenger``.

    The comparison must be apples to apples, so the champion is scored on *this* run's held-out needs:
    ``champion_score_fn(scorer) -> float`` evaluates the loaded champion there (``new_score`` defaults to the run's
    logged ``metric``). Without it the champion's recorded score is used only when its run was evaluated on the same
    held-out needs (same ``heldout_fingerprint``); otherwise the new version stays challenger. A champion that no
    longer loads counts as no champion; a new version that does not load gets no alias. Everything is evaluated
    before anything is written. The version gets its model card (``card.write_card``). ``require_online_win``: a
    version that beats a working champion offline becomes ``challenger`` all the same, to be interleaved with it
    online (``matcher.interleaving``) and promoted by hand after a significant win (``talentmatch models promote V
    --require-online-win``).
    """
    client = store.require()
    run = client.get_run(run_id)
    model_uri = run.data.tags.get(MODEL_URI_TAG)
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
    before = alias_version(client, CHAMPION)
    try:
        new = load(model_uri, "new", contract)
    except RegistryError as e:
        alias, reason = None, f"not aliased: {e}"
    else:
        if before is None:
            alias, reason = CHAMPION, "no champion yet"
        else:
            alias, reason, champion_score = _compare(
                before, new, new_score, metric, margin, fingerprint, champion_score_fn
            )
            if require_online_win and alias == CHAMPION and champion_score is not None:
                alias, reason = CHALLENGER, f"{reason}; held as challenger until it wins online (require_online_win)"

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
    write_card(client, run_id, version, gate)
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
        scorer = load_version(champion)
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


def _get_version(client: MlflowClient, version: str) -> ModelVersion:
    try:
        return client.get_model_version(MODEL_NAME, str(version))
    except MlflowException as e:
        known = ", ".join(r["version"] for r in list_versions()) or "none"
        raise RegistryError(f"{MODEL_NAME} has no version {version!r} (versions: {known})") from e


def promote(version: str) -> AliasChange:
    """Make ``version`` the champion by hand, after checking it loads against this code's feature schema."""
    client = store.require()
    mv = _get_version(client, version)
    load_version(mv)
    before = alias_version(client, CHAMPION)
    _set_champion(client, str(mv.version))
    return AliasChange(str(mv.version), str(before.version) if before else None)


def rollback() -> AliasChange:
    """Give the champion alias back to the previous champion (it must still load); repeated calls walk further back."""
    client = store.require()
    current = alias_version(client, CHAMPION)
    if current is None:
        raise RegistryError(f"{MODEL_NAME} has no champion to roll back")
    history = _history(client)
    while history and history[-1] == str(current.version):
        history.pop()
    if not history:
        raise RegistryError(f"champion {current.version} has no previous champion to roll back to")
    target = client.get_model_version(MODEL_NAME, history[-1])
    load_version(target)
    _set_champion(client, history[-1], history)
    return AliasChange(history[-1], str(current.version))
