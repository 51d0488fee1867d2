"""``talentmatch retrain``: a new model from the feedback recorded since the last training run, gated against the
champion on the same held-out rows.

``plan`` needs no indices: it joins the feedback to the decision receipts (``matcher.receipt_rows``), splits the
needs and says what a run would do (``--dry-run`` prints it). ``retrain_and_register`` builds the rows of the
feedback that has no receipt as ``train`` does (today's records, retrieved negatives), fits, scores the new model
and the champion on the same held-out rows (receipt features as shown) against the feedback grades, logs the run
with its watermark and promotes only through the gate (``matcher.registry.register_and_gate``).

Feedback teaches about people: with ``persons`` (talent id → person id, which ``service.retraining`` reads from the
store's ``person_members``) the receipt rows are one per (need, person) (``receipt_rows.join_receipts``), the events
without a receipt are folded per person (``labels.fold_persons``) and their sampled negatives leave out the judged
persons' other records (``dataset.build_rank_data``), so the held-out NDCG counts each person once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.metrics import ndcg_score

from features.indices import Indices
from features.matrix import text_relevance
from features.records import FeedbackEvent
from features.schema import SCHEMA
from matcher import registry
from matcher.dataset import RankData, build_rank_data, snapshot_time
from matcher.drift import profile
from matcher.evaluate import Splits, split_needs
from matcher.labels import (
    DEFAULT_LABELS,
    Persons,
    examination_propensity,
    exposure_from_feedback,
    fold_persons,
    labels_from_feedback,
    person_key,
)
from matcher.ranker import indices_encoder
from matcher.receipt_rows import Joined, ShownPage, concat, empty_rank_data, join_receipts, take_needs
from matcher.registry.runs import PROFILE_PATH, feedback_window
from matcher.train import DEFAULT_MODE, DEFAULT_TREATMENT, LabelTreatment, Prepared, fit_model, row_weights

Progress = Callable[[str], None]
GATE_METRIC = "ndcg@10"
GATE_K = 10
NDCG_AT = (5, 10, 20)


class NothingNew(ValueError):
    """No feedback was recorded since the last training run's watermark."""


@dataclass(frozen=True)
class Since:
    """Which feedback counts as new. ``new_ids``: the events recorded after the last run's journal position ``seq``
    (``None``: every event counts, and ``note`` says why — no earlier run read this store, or the journal no longer
    reaches back to ``seq``). ``time``: the last run's event-time watermark, for display. ``head``: the journal
    position of the store ``store_id`` this run reads up to (what it logs)."""

    new_ids: frozenset[str] | None = None
    seq: int | None = None
    time: datetime | None = None
    head: int | None = None
    store_id: str | None = None
    note: str = "no earlier run read this store's feedback"

    @property
    def journal(self) -> tuple[str, int] | None:
        """(store identity, head) to log, when known."""
        return None if self.store_id is None or self.head is None else (self.store_id, self.head)


@dataclass(frozen=True)
class ChampionNeeds:
    """The needs the champion trained (or validated) on, which a fair gate does not hold out where it can help it, and
    how they were told (``basis``)."""

    trained: frozenset[str] = frozenset()
    basis: str = "no champion with a recorded watermark"


@dataclass(frozen=True)
class RetrainPlan:
    """What a retrain would do: where it starts (``since``) and the event-time watermark it would log, the events
    (all and new), the receipt join, the events whose features are recomputed, the need split and the needs the
    champion trained on."""

    since: Since
    new_watermark: datetime | None
    events: int
    new_events: int
    joined: Joined
    recompute_labels: dict[tuple[str, str], int]
    splits: Splits
    champion: ChampionNeeds = ChampionNeeds()
    persons: Persons | None = None
    """Talent id → person id of the records linked with others (None: per record)."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts (what ``--dry-run`` prints)."""
        data, since = self.joined.data, self.since
        return {
            "watermark": since.time.isoformat() if since.time else None,
            "watermark_seq": since.seq,
            "new_watermark": self.new_watermark.isoformat() if self.new_watermark else None,
            "new_watermark_seq": since.head,
            "new_since": f"journal seq {since.seq}" if since.new_ids is not None else f"all feedback: {since.note}",
            "events": self.events,
            "new_events": self.new_events,
            "receipts": self.joined.pages,
            "rows": {
                "receipts": len(data),
                "receipt_needs": len(data.group),
                "recomputed_pairs": len(self.recompute_labels),
                "recomputed_events": len(self.joined.recompute),
            },
            "rows_by_model": self.joined.by_model,
            "persons": len(set((self.persons or {}).values())),
            "skipped": self.joined.skipped,
            "heldout_needs": self.splits.test,
            "heldout": {
                "champion_trained": len(set(self.splits.test) & self.champion.trained),
                "champion_basis": self.champion.basis,
            },
            "needs": {"train": len(self.splits.train), "valid": len(self.splits.valid), "test": len(self.splits.test)},
        }


def plan(
    feedback: Sequence[FeedbackEvent],
    pages: Mapping[str, ShownPage],
    *,
    since: Since,
    known_needs: set[str] | frozenset[str],
    champion: ChampionNeeds = ChampionNeeds(),
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    random_state: int = 0,
    persons: Persons | None = None,
) -> RetrainPlan:
    """Join and split (per person with ``persons``: see the module docstring); ``NothingNew`` when ``since`` names the
    new events and there are none, ``ValueError`` when too few needs have feedback. ``known_needs``: the needs that
    still exist (feedback on a deleted need is ignored).

    The held-out needs are as many as ``split_needs`` holds out, drawn first from the needs the champion never
    trained on (not in ``champion.trained``): the gate scores both models there, and a need the champion trained on
    would favour it. Needs it trained on are held out only when too few others have feedback (counted in the
    summary's ``heldout.champion_trained``)."""
    new = [ev for ev in feedback if since.new_ids is None or ev.id in since.new_ids]
    if since.new_ids is not None and not new:
        raise NothingNew(
            f"retrain: no feedback recorded since the last training run (journal seq {since.seq}, "
            f"{len(feedback)} event(s) in all); record feedback through the API first, or run `talentmatch train`"
        )
    persons = persons or None
    joined = join_receipts(feedback, pages, label_map=label_map, random_state=random_state, persons=persons)
    receipt_pairs = {(n, person_key(persons, t)) for n, t in zip(_pair_needs(joined.data), joined.data.talent_ids,
                                                                  strict=True)}  # fmt: skip
    recompute = {
        key: g
        for key, g in labels_from_feedback(fold_persons(joined.recompute, persons), label_map).items()
        if (key[0], person_key(persons, key[1])) not in receipt_pairs and key[0] in known_needs
    }
    needs = (set(joined.data.need_ids) & set(known_needs)) | {n for n, _ in recompute}
    if len(needs) < 3:
        raise ValueError(
            f"retrain: {len(needs)} need(s) have usable feedback ({len(joined.data)} receipt row(s), "
            f"{len(recompute)} pair(s) without a receipt); retraining needs at least 3 (train, valid, test)"
        )
    splits = split_needs(sorted(needs), random_state=random_state, test_first=needs - champion.trained)
    return RetrainPlan(
        since, snapshot_time(feedback), len(feedback), len(new), joined, recompute, splits, champion, persons
    )


def _pair_needs(data: RankData) -> list[str]:
    return [n for n, size in zip(data.need_ids, data.group, strict=True) for _ in range(int(size))]


def group_ndcg(data: RankData, score: np.ndarray, k: int) -> float:
    """Mean NDCG@k over the groups of ``data`` that have a relevant row (grade >= 1) and more than one row, against
    the feedback grades ``data.y``; NaN when no group has one."""
    out, start = [], 0
    for size in data.group.tolist():
        y, s = data.y[start : start + size], score[start : start + size]
        start += size
        if size > 1 and (y >= 1).any():
            out.append(ndcg_score(y[None].astype(np.float64), s[None].astype(np.float64), k=k))
    return float(np.mean(out)) if out else float("nan")


def heldout_metrics(data: RankData, score: np.ndarray) -> dict[str, float]:
    """NDCG@5/10/20 of ``score`` on ``data``'s groups (``group_ndcg``), rounded for display and the run's metrics."""
    return {f"ndcg@{k}": round(group_ndcg(data, np.asarray(score), k), 4) for k in NDCG_AT}


def retrain_and_register(
    idx: Indices,
    the_plan: RetrainPlan,
    feedback: Sequence[FeedbackEvent],
    *,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    treatment: LabelTreatment | None = None,
    params: Mapping[str, object] | None = None,
    margin: float = 0.0,
    require_online_win: bool = False,
    negatives: int = 100,
    k: int = 300,
    random_state: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build, fit, evaluate, log and gate (see the module docstring); returns a JSON-ready summary."""
    say = progress or (lambda _: None)
    treatment = treatment or DEFAULT_TREATMENT
    splits = the_plan.splits
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    say("rows")
    now = snapshot_time(feedback)
    recomputed = _recomputed_rows(idx, the_plan, now=now, negatives=negatives, k=k, seed=random_state)
    receipts = the_plan.joined.data

    def part(ids: list[str]) -> RankData:
        return concat(take_needs(receipts, set(ids)), take_needs(recomputed, set(ids)))

    train_rows, valid_rows, test_rows = part(splits.train), part(splits.valid), part(splits.test)
    if not len(train_rows):
        raise ValueError("retrain: the training needs have no rows; record more feedback")
    exposure = exposure_from_feedback(fold_persons(feedback, the_plan.persons))
    prep = Prepared(splits, train_rows, valid_rows, examination_propensity(exposure), now, {}, the_plan.persons)
    clock["rows"] = time.perf_counter() - t0

    say("fit")
    t1 = time.perf_counter()
    model = fit_model(prep, treatment=treatment, params=params, random_state=random_state)
    clock["fit"] = time.perf_counter() - t1

    say("evaluate")
    predicted = model.predict(test_rows.X)
    metrics = {
        "lambdarank": heldout_metrics(test_rows, predicted),
        "blend": heldout_metrics(test_rows, text_relevance(test_rows.X)),
    }
    new_score = group_ndcg(test_rows, predicted, GATE_K)  # unrounded: the gate compares exact scores
    if not np.isfinite(new_score):
        raise ValueError(
            f"retrain: no held-out need ({len(splits.test)}) has a relevant label (grade >= 1) to score NDCG on; "
            "record more feedback (shortlists, contacts) first"
        )
    rows = {
        "receipts": len(receipts),
        "recomputed": len(recomputed),
        "train": int((row_weights(train_rows, treatment, prep.propensity) > 0).sum()),
        "valid": len(valid_rows),
        "test": len(test_rows),
    }
    say("logging to MLflow")
    shown_rows = train_rows.X[train_rows.shown] if train_rows.shown.any() else train_rows.X  # the drift reference
    run_id = registry.log_run(
        booster=model.booster_,
        params={
            **model.get_params(),
            **treatment.to_dict(),
            "source": "retrain",
            "mode": DEFAULT_MODE.value,
            "negatives": negatives,
            "labels": ",".join(f"{a}={g}" for a, g in label_map.items()),
            "rows_receipts": rows["receipts"],
            "rows_recomputed": rows["recomputed"],
            "new_events": the_plan.new_events,
            "persons": len(set((the_plan.persons or {}).values())),
            **registry.watermark_param(the_plan.new_watermark, the_plan.since.journal),
            **feedback_window(feedback),
        },
        metrics=metrics,
        encoder=indices_encoder(idx),
        feature_importance=model.feature_importance(),
        heldout_needs=splits.test,
        artifacts={PROFILE_PATH: profile(shown_rows, SCHEMA.names)},
    )

    def champion_score(scorer: Any) -> float:
        scores = scorer.predict(test_rows.X)
        metrics["champion"] = heldout_metrics(test_rows, scores)
        return group_ndcg(test_rows, scores, GATE_K)

    say("gating")
    gate = registry.register_and_gate(
        run_id,
        metric=f"lambdarank.{GATE_METRIC}",
        margin=margin,
        new_score=new_score,
        champion_score_fn=champion_score,
        require_online_win=require_online_win,
    )
    clock["total"] = time.perf_counter() - t0
    return {
        **the_plan.summary(),
        "treatment": treatment.to_dict(),
        "dry_run": False,
        "run_id": run_id,
        **gate.summary(),
        "metrics": metrics,
        "rows": {**the_plan.summary()["rows"], **rows},
        "seconds": {name: round(v, 2) for name, v in clock.items()},
    }


def _recomputed_rows(
    idx: Indices, the_plan: RetrainPlan, *, now: datetime | None, negatives: int, k: int, seed: int
) -> RankData:
    """Rows of the pairs with no receipt, built as ``train`` builds them (sampled retrieved negatives)."""
    labels = the_plan.recompute_labels
    needs = sorted({n for n, _ in labels} & set(idx.needs))
    if not needs:
        return empty_rank_data(len(SCHEMA.names))
    persons = the_plan.persons
    receipts = the_plan.joined.data  # a person with a receipt row for the need is no negative of its other group
    held: dict[str, set[str]] = {}
    for n, t in zip(_pair_needs(receipts), receipts.talent_ids, strict=True):
        held.setdefault(n, set()).add(person_key(persons, t))
    return build_rank_data(
        idx, [idx.needs[n] for n in needs], labels, mode=DEFAULT_MODE, k=k, negatives=negatives, now=now,
        random_state=seed, exposure=exposure_from_feedback(fold_persons(the_plan.joined.recompute, persons)),
        persons=persons, exclude=held,
    )  # fmt: skip
