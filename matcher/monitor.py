"""What the report concludes from drift, feedback and the champion's age: feedback rates by post kind and stage, and
whether to retrain and why.

The retrain rule (README, Reports and model cards): retrain when any feature's PSI is above the shift threshold
(``matcher.drift.SHIFT``), or when at least ``NEW_FEEDBACK`` feedback events arrived since the champion's training
data ends, or when the champion is older than ``MAX_AGE_DAYS``. Any one suffices; the line names every reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.records import FeedbackAction
from matcher.drift import SHIFT

NEW_FEEDBACK = 500
"""Feedback events since the champion's training data that call for a retrain."""
MAX_AGE_DAYS = 30.0
"""A champion older than this many days is retrained even without drift."""
STAGES = [a.value for a in FeedbackAction if a is not FeedbackAction.impression]
"""The funnel's stages a feedback rate is given for (an impression is the showing itself)."""


@dataclass(frozen=True)
class RetrainRule:
    """The thresholds of ``retrain_advice``."""

    psi: float = SHIFT
    new_feedback: int = NEW_FEEDBACK
    max_age_days: float = MAX_AGE_DAYS


@dataclass(frozen=True)
class Advice:
    """``retrain``: whether to; ``line``: one sentence saying so and why."""

    retrain: bool
    line: str


def feedback_rates(shown: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """Actions per shown candidate, by post kind and stage.

    ``shown``: one row per shown slot with ``need_id``, ``talent_id``, ``kind`` (a candidate shown again for the same
    need counts once). ``feedback``: one row per event with ``need_id``, ``action``, ``kind``. One row per post kind
    seen in either, plus ``all``: ``shown`` (distinct need–talent pairs) and, per stage in ``STAGES``, events
    divided by ``shown`` (NaN where nothing was shown)."""
    pairs = shown.drop_duplicates(["need_id", "talent_id"]) if len(shown) else shown
    kinds = sorted(set(pairs["kind"]) | set(feedback["kind"]))
    rows = []
    for kind in [*kinds, "all"]:
        mine = pairs if kind == "all" else pairs[pairs["kind"] == kind]
        events = feedback if kind == "all" else feedback[feedback["kind"] == kind]
        per_stage = events["action"].value_counts()
        n = len(mine)
        rows.append({"kind": kind, "shown": n} | {s: per_stage.get(s, 0) / n if n else float("nan") for s in STAGES})
    return pd.DataFrame(rows, columns=["kind", "shown", *STAGES])


def retrain_advice(
    flagged: list[str] | None,
    new_feedback: int | None,
    age_days: float | None,
    rule: RetrainRule = RetrainRule(),
) -> Advice:
    """The retrain line. ``flagged``: features whose PSI is above ``rule.psi`` (``None``: no reference to measure
    against); ``new_feedback``: events since the champion's training data (``None``: unknown); ``age_days``: the
    champion's age (``None``: there is no champion — then train one)."""
    if age_days is None:
        return Advice(True, "Retrain: there is no champion model yet; run `talentmatch train`.")
    reasons = []
    if flagged:
        shown = ", ".join(flagged[:5]) + (f" and {len(flagged) - 5} more" if len(flagged) > 5 else "")
        reasons.append(f"PSI above {rule.psi:g} on {len(flagged)} feature(s) ({shown})")
    if new_feedback is not None and new_feedback >= rule.new_feedback:
        reasons.append(f"{new_feedback} feedback events since the champion's training data (≥ {rule.new_feedback})")
    if age_days > rule.max_age_days:
        reasons.append(f"the champion is {age_days:.0f} days old (> {rule.max_age_days:g})")
    if reasons:
        return Advice(True, "Retrain: " + "; ".join(reasons) + ".")
    drift = f"no feature's PSI above {rule.psi:g}" if flagged is not None else "drift not measured (see below)"
    feedback = "an unknown number of" if new_feedback is None else str(new_feedback)
    return Advice(
        False,
        f"No need to retrain: {drift}; {feedback} feedback events since the champion's training data "
        f"(< {rule.new_feedback}); the champion is {age_days:.0f} days old (≤ {rule.max_age_days:g}).",
    )
