"""The data team's runs, end to end: train, evaluate, log to MLflow and gate the champion.

``talentmatch train`` and ``talentmatch evaluate`` are thin wrappers over these functions, on indices from
``Indices.build`` (which never indexes feedback: see there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from features.indices import Indices
from features.records import FeedbackEvent
from matcher import registry
from matcher.dataset import snapshot_time
from matcher.evaluate import baseline_scorers, evaluate, split_needs
from matcher.exposure import exposure_records
from matcher.labels import DEFAULT_LABELS, Persons, fold_persons, labels_from_feedback
from matcher.model_exposure import heldout_exposure, relevant_pairs
from matcher.ranker import Scorer
from matcher.registry.card import EXPOSURE_PATH
from matcher.registry.runs import PROFILE_PATH, feedback_window
from matcher.train import LabelTreatment, train

Progress = Callable[[str], None]
GATE_METRIC = "ndcg@10"


def train_and_register(
    idx: Indices,
    feedback: Sequence[FeedbackEvent],
    *,
    truth: Mapping[str, Mapping[str, int]] | None,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    margin: float = 0.0,
    require_online_win: bool = False,
    dask: str | None = None,
    random_state: int = 0,
    params: Mapping[str, object] | None = None,
    treatment: LabelTreatment | None = None,
    journal: tuple[str, int] | None = None,  # (store identity, change-journal seq) the feedback was read up to
    progress: Progress | None = None,
    persons: Persons | None = None,
) -> dict[str, Any]:
    """Train, log the run, register the booster and set ``champion`` only if it beats the current champion by more
    than ``margin`` on this run's held-out needs (``challenger`` otherwise, and always with ``require_online_win``
    while a champion serves: see ``registry.register_and_gate``). Returns a JSON-ready summary. ``persons`` (talent
    id → person id): feedback, rows, scores and the gate per person (``matcher.train``)."""
    say = progress or (lambda _: None)
    result = train(
        idx, feedback, label_map=label_map, params=params, treatment=treatment, random_state=random_state, dask=dask,
        truth=truth, progress=progress, persons=persons,
    )  # fmt: skip
    test = [idx.needs[i] for i in result.splits.test]
    relevance = _relevance(result.splits.test, fold_persons(feedback, persons), label_map, truth)
    say("exposure")
    exposure = heldout_exposure(
        idx, test, result.model.predict, relevant_pairs(result.splits.test, **relevance), now=result.snapshot,
        persons=persons,
    )  # fmt: skip
    say("logging to MLflow")
    run_id = registry.log_run(
        booster=result.model.booster_,
        params={
            **result.params,
            "labels": ",".join(f"{k}={v}" for k, v in result.label_map.items()),
            **registry.watermark_param(snapshot_time(feedback), journal),
            **feedback_window(feedback),
        },
        metrics={**result.metrics, **{f"feedback.{m}": v for m, v in result.feedback_metrics.items()}},
        encoder=result.encoder,
        feature_importance=result.feature_importance,
        heldout_needs=result.splits.test,
        artifacts={PROFILE_PATH: result.profile, EXPOSURE_PATH: exposure_records(exposure)},
    )  # fmt: skip

    def champion_score(scorer: Scorer) -> float:
        scored = evaluate(
            idx, test, {"champion": lambda X, need: scorer.predict(X)}, now=result.snapshot, persons=persons,
            **relevance,
        )  # fmt: skip
        return float(scored["champion"][GATE_METRIC])

    say("gating")
    gate = registry.register_and_gate(
        run_id,
        metric=f"lambdarank.{GATE_METRIC}",
        margin=margin,
        require_online_win=require_online_win,
        new_score=float(result.metrics["lambdarank"][GATE_METRIC]),
        champion_score_fn=champion_score,
    )
    return {
        "run_id": run_id,
        **gate.summary(),
        "truth_based": result.truth_based,
        "metrics": _plain(result.metrics),
        "rows": result.rows,
        "seconds": result.seconds,
        "best_iteration": result.params.get("best_iteration"),
        "persons": result.params.get("persons", 0),
        "tracking_uri": registry.uri(),  # the store it registered in (configure() would re-point it)
    }


def evaluate_models(
    idx: Indices,
    feedback: Sequence[FeedbackEvent],
    *,
    truth: Mapping[str, Mapping[str, int]] | None,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    random_state: int = 0,
    progress: Progress | None = None,
    persons: Persons | None = None,
) -> tuple[dict[str, dict], str | None]:
    """The champion (as ``lambdarank``) against every baseline on the held-out needs of the same split ``train``
    makes; truth-based where the world has a truth. Without a champion, a model is trained in process (not
    registered). Returns the metrics and the champion version evaluated (None when trained in process). A champion
    whose contract does not match ``idx`` (another dense encoder, say) is refused with a ``ValueError``. ``persons``:
    feedback and scores per person, one card per person (``matcher.evaluate``)."""
    serving = registry.serving_model(indices=idx)
    if serving.mismatch:
        raise ValueError(f"evaluate: {serving.error}")
    scorer = serving.scorer
    if scorer is None:
        result = train(
            idx, feedback, label_map=label_map, random_state=random_state, truth=truth, progress=progress,
            persons=persons,
        )  # fmt: skip
        return _plain(result.metrics), None
    feedback = fold_persons(feedback, persons)
    labels = labels_from_feedback(feedback, label_map)
    known = sorted({n for n, _ in labels} & set(idx.needs))
    if not known:
        raise ValueError("evaluate: no feedback refers to an indexed need; import feedback for the world's needs first")
    splits = split_needs(known, random_state=random_state)
    test = [idx.needs[i] for i in splits.test]
    scorers = {"lambdarank": lambda X, need: scorer.predict(X), **baseline_scorers(random_state)}
    relevance = _relevance(splits.test, feedback, label_map, truth)
    metrics = evaluate(
        idx, test, scorers, now=snapshot_time(feedback), random_state=random_state, persons=persons, **relevance
    )
    return _plain(metrics), scorer.version


def _relevance(
    test: Sequence[str],
    feedback: Sequence[FeedbackEvent],
    label_map: Mapping[str, int],
    truth: Mapping[str, Mapping[str, int]] | None,
) -> dict[str, object]:
    if truth is not None:
        return {"truth": truth}
    held_out = set(test)
    return {"feedback_labels": {k: g for k, g in labels_from_feedback(feedback, label_map).items() if k[0] in held_out}}


def _plain(metrics: Mapping[str, Mapping]) -> dict[str, dict]:
    """Floats rounded for display and JSON; nested ``by_kind`` kept."""

    def clean(v: object) -> object:
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        return round(float(v), 4) if isinstance(v, int | float) else v

    return {m: clean(v) for m, v in metrics.items()}
