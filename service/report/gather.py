"""The report's numbers, read from the database and the registry (see ``service.report``)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from features.records import FeedbackAction
from features.schema import SCHEMA
from matcher.drift import psi_table
from matcher.exposure import ATTRIBUTES, UNKNOWN, exposure_table, talent_attributes
from matcher.labels import DEFAULT_LABELS
from matcher.monitor import Advice, RetrainRule, feedback_rates, retrain_advice
from service import db
from service.store import Store

DRIFT_ROWS = 50_000
"""At most this many recent feature rows are read for PSI: pages ordered by their random id, so a random sample."""
ID_CHUNK = 500
"""Ids per ``IN`` list when reading talents (SQLite allows a few thousand bound parameters)."""


@dataclass
class Champion:
    """The champion's version, its training run's start, the end of its training data and its reference profile
    (``None`` when the run logged none)."""

    version: str
    run_id: str
    trained_at: datetime
    data_until: datetime | None
    profile: dict[str, dict] | None


@dataclass
class Report:
    """Everything the template shows. ``notes``: what is missing and why, one sentence each."""

    generated_at: datetime
    since: datetime | None
    """Start of the window (``None``: all of a world folder's records)."""
    database: str
    champion: Champion | None = None
    rankings: int = 0
    shown: int = 0
    psi: pd.DataFrame | None = None
    recent_rows: np.ndarray | None = None
    rates: pd.DataFrame | None = None
    exposure: pd.DataFrame | None = None
    new_feedback: int | None = None
    advice: Advice | None = None
    rule: RetrainRule = field(default_factory=RetrainRule)
    notes: list[str] = field(default_factory=list)


def gather(store: Store | None, *, since: datetime, rule: RetrainRule, now: datetime | None = None,
           database_error: str | None = None) -> Report:  # fmt: skip
    """The report for receipts and feedback from ``since`` on. ``store`` ``None`` (with ``database_error`` saying
    why) gives a report of the registry alone."""
    now = now or datetime.now(UTC)
    report = Report(now, since, db.safe_url(store.url) if store else "none", rule=rule)
    report.champion = _champion(report.notes)
    flagged: list[str] | None = None
    if store is None:
        report.notes.append(f"No database: {database_error}. Feedback, drift and exposure need one.")
    else:
        shown = _shown(store, since)
        report.rankings = shown["ranking_id"].nunique()
        if shown.empty:
            report.notes.append(
                f"No rankings were served since {since:%Y-%m-%d %H:%M} UTC (no decision receipts): drift and "
                "exposure need rankings served by the API or the console."
            )
        _tables(report, shown, _feedback(store, since), _relevant(store, shown), store=store)
        flagged = _drift(store, since, report)
        if report.champion is not None:
            report.new_feedback = _count_feedback(store, _data_end(report.champion))
    age = None if report.champion is None else (now - report.champion.trained_at) / timedelta(days=1)
    report.advice = retrain_advice(flagged, report.new_feedback, age, rule)
    return report


def gather_world(records: Mapping[str, Sequence[Any]], name: str, *, since: datetime | None, rule: RetrainRule,
                 now: datetime | None = None) -> Report:  # fmt: skip
    """The report of a world folder's records: no decision receipts there, so the shown candidates are its
    ``impression`` feedback events (with their positions) and drift is not measured. ``since`` ``None``: all."""
    now = now or datetime.now(UTC)
    report = Report(now, since, name, rule=rule)
    report.champion = _champion(report.notes)
    report.notes.append(
        "A world folder has no decision receipts: shown candidates are its impression events, and drift is measured "
        "only against receipts in a database (use --url)."
    )
    kinds = {n.id: n.kind.value for n in records.get("need", ())}
    events = [
        ev for ev in records.get("feedback", ()) if ev.need_id in kinds and (since is None or (ev.time or now) >= since)
    ]
    shown = pd.DataFrame(
        [(ev.need_id, ev.talent_id, ev.position + 1, kinds[ev.need_id]) for ev in events
         if ev.action is FeedbackAction.impression and ev.position is not None],
        columns=["need_id", "talent_id", "position", "kind"],
    )  # fmt: skip
    feedback = pd.DataFrame(
        [(ev.need_id, ev.action.value, kinds[ev.need_id]) for ev in events], columns=["need_id", "action", "kind"]
    )
    needs = set(shown["need_id"])
    relevant = pd.DataFrame(
        [(ev.need_id, ev.talent_id) for ev in records.get("feedback", ())
         if ev.need_id in needs and DEFAULT_LABELS[ev.action.value] >= 1],
        columns=["need_id", "talent_id"],
    )  # fmt: skip
    _tables(report, shown, feedback, relevant, attributes=talent_attributes(records.get("talent", ())))
    if report.champion is not None:
        end = _data_end(report.champion)
        report.new_feedback = sum(1 for ev in records.get("feedback", ()) if ev.time is not None and ev.time > end)
    age = None if report.champion is None else (now - report.champion.trained_at) / timedelta(days=1)
    report.advice = retrain_advice(None, report.new_feedback, age, rule)
    return report


def _tables(report: Report, shown: pd.DataFrame, feedback: pd.DataFrame, relevant: pd.DataFrame, *,
            store: Store | None = None, attributes: pd.DataFrame | None = None) -> None:  # fmt: skip
    """Feedback rates and the exposure table (talents' attributes read from ``store`` unless given)."""
    report.shown = len(shown)
    report.rates = feedback_rates(shown, feedback)
    if attributes is None:
        attributes = _attributes(store, set(shown["talent_id"]) | set(relevant["talent_id"]))
    report.exposure = exposure_table(shown, relevant, attributes)


def _data_end(champion: Champion) -> datetime:
    """Where "since the champion's training data" starts: its last feedback, else its training run's start."""
    return champion.data_until or champion.trained_at


def _champion(notes: list[str]) -> Champion | None:
    from mlflow.exceptions import MlflowException

    from matcher.registry import CHAMPION, MODEL_NAME, store
    from matcher.registry.loading import alias_version
    from matcher.registry.runs import PROFILE_PATH

    why = store.missing()
    if why:
        notes.append(f"No champion: {why}.")
        return None
    client = store.client()
    try:
        mv = alias_version(client, CHAMPION)
        if mv is None:
            notes.append(f"No champion: {MODEL_NAME} has no version with the champion alias (run `talentmatch train`).")
            return None
        run = client.get_run(mv.run_id)
        profile = None
        if PROFILE_PATH in {f.path for f in client.list_artifacts(mv.run_id)}:
            import mlflow.artifacts

            profile = json.loads(mlflow.artifacts.load_text(f"runs:/{mv.run_id}/{PROFILE_PATH}"))
    except MlflowException as e:
        notes.append(f"The registry could not be read: {e.message}")
        return None
    if profile is None:
        notes.append(
            f"Champion {mv.version} logged no reference profile (trained before profiles were logged): retrain "
            "to measure drift."
        )
    until = run.data.params.get("feedback_to")
    return Champion(
        version=str(mv.version),
        run_id=mv.run_id,
        trained_at=datetime.fromtimestamp(run.info.start_time / 1000, UTC),
        data_until=datetime.fromisoformat(until) if until else None,
        profile=profile,
    )


def _shown(store: Store, since: datetime) -> pd.DataFrame:
    """One row per shown slot of a need's ranking since ``since``: ranking_id, need_id, talent_id, position
    (1-based), kind. Erased candidates (no talent id) are left out."""
    r, n = db.RankingRow.__table__, db.NeedRow.__table__
    query = sa.union_all(*(
        sa.select(r.c.id.label("ranking_id"), r.c.need_id, cols["talent_id"].label("talent_id"),
                  (cols["position"] + 1).label("position"), n.c.kind)
        .select_from(src.join(n, n.c.id == r.c.need_id))
        .where(r.c.created_at >= since, cols["talent_id"].is_not(None))
        for src, cols in db.shown_candidates(r)
    ))  # fmt: skip
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return _frame(rows, ["ranking_id", "need_id", "talent_id", "position", "kind"])


def _feedback(store: Store, since: datetime) -> pd.DataFrame:
    f, n = db.FeedbackRow.__table__, db.NeedRow.__table__
    when = sa.func.coalesce(f.c.time, f.c.written_at)
    query = sa.select(f.c.need_id, f.c.action, n.c.kind).join(n, n.c.id == f.c.need_id).where(when >= since)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return _frame(rows, ["need_id", "action", "kind"])


def _count_feedback(store: Store, after: datetime) -> int:
    f = db.FeedbackRow.__table__
    with store.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).where(sa.func.coalesce(f.c.time, f.c.written_at) > after)))


def _relevant(store: Store, shown: pd.DataFrame) -> pd.DataFrame:
    """The (need, talent) pairs positively judged (shortlist or beyond, any time) for the needs shown."""
    f = db.FeedbackRow.__table__
    positive = [a for a, grade in DEFAULT_LABELS.items() if grade >= 1]
    relevant: list[tuple[str, str]] = []
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(set(shown["need_id"]))):
            relevant += conn.execute(
                sa.select(f.c.need_id, f.c.talent_id).where(f.c.need_id.in_(chunk), f.c.action.in_(positive))
            ).all()
    return _frame(relevant, ["need_id", "talent_id"])


def _attributes(store: Store, talent_ids: Iterable[str]) -> pd.DataFrame:
    """``matcher.exposure.talent_attributes`` from the talents' columns, without validating whole records."""
    t = db.TalentRow.__table__
    rows = []
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(talent_ids)):
            for row in conn.execute(
                sa.select(t.c.id, t.c.nationality, t.c.tier, t.c.incubator_id, t.c.data).where(t.c.id.in_(chunk))
            ):
                country = ((row.data or {}).get("residence") or {}).get("country")
                rows.append((row.id, row.nationality or UNKNOWN, row.tier or UNKNOWN, country or UNKNOWN,
                             row.incubator_id or UNKNOWN))  # fmt: skip
    return pd.DataFrame(rows, columns=["talent_id", *ATTRIBUTES]).set_index("talent_id")


def _drift(store: Store, since: datetime, report: Report) -> list[str] | None:
    """PSI of the recent receipts' feature rows (each computed page's rows once) against the champion's reference
    profile; the flagged features, or ``None`` when drift cannot be measured."""
    if report.champion is None or report.champion.profile is None:
        return None
    r, c, d = db.RankingRow.__table__, db.RankingCandidateRow.__table__, db.RankingDetailRow.__table__
    pages = sa.union(  # the pages the receipts name, and those of the older receipts' candidate rows
        sa.select(r.c.page_id).where(r.c.created_at >= since, r.c.page_id.is_not(None)),
        sa.select(c.c.page_id).join(r, r.c.id == c.c.ranking_id).where(r.c.created_at >= since),
    )
    names = SCHEMA.names
    with store.engine.connect() as conn:
        details = conn.execution_options(yield_per=1000).execute(
            sa.select(d.c.detail)
            .where(d.c.page_id.in_(pages), d.c.detail.is_not(None))
            .order_by(d.c.page_id, d.c.position)
            .limit(DRIFT_ROWS)
        )  # streamed: only the feature values are kept, not each row's reasons and contributions
        rows = [_row(json.loads(x) if isinstance(x, str) else x, names) for (x,) in details]
    if not rows:
        return None
    X = np.array(rows, dtype=float)
    report.recent_rows = X
    report.psi = psi_table(report.champion.profile, X, names, threshold=report.rule.psi)
    return report.psi.loc[report.psi["flagged"], "feature"].tolist()


def _row(detail: dict[str, Any], names: list[str]) -> list[float]:
    features = detail.get("features") or {}
    return [math.nan if features.get(n) is None else float(features[n]) for n in names]


def _frame(rows: Sequence[Sequence[Any]], columns: list[str]) -> pd.DataFrame:
    """Rows of a query as a frame, column by column (pandas inspects each SQLAlchemy row object otherwise: ten
    times slower on 400,000 shown slots, measured)."""
    transposed = zip(*rows, strict=True) if rows else ([] for _ in columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, transposed, strict=True)}, columns=columns)


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]
