"""The simulated recruiter: the legacy system's feedback on each need, drawn from the hidden truth.

Why: the product learns from feedback, not from the truth. This module turns the true grades into what a real
deployment would log — a noisy legacy ranking, position-biased attention and a click funnel — so training meets
the biases it would meet in service.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from demo.relevance import top
from features.records import FeedbackAction

# The click model, indexed by true grade 0..4: the chance of each step given the one before.
_P_SHORTLIST = np.array([0.03, 0.15, 0.32, 0.52, 0.72])
_P_REJECT = np.array([0.55, 0.35, 0.18, 0.08, 0.04])
_P_CONTACT = np.array([0.2, 0.4, 0.5, 0.62, 0.75])
_P_INTERVIEW = np.array([0.05, 0.2, 0.35, 0.5, 0.6])
_P_HIRE = np.array([0.0, 0.0, 0.04, 0.2, 0.4])


def simulate_feedback(
    rng: np.random.Generator,
    need: int,
    cols: np.ndarray,
    rel: np.ndarray,
    grade: np.ndarray,
    consenting: np.ndarray,
    consent: np.ndarray,
    need_times: list[datetime],
) -> list[dict]:
    """One legacy ranking shown to one recruiter: a noisy order of related and random consenting talents, acted on
    through a position-bias click model (examine → view → shortlist → contact → interview → hire, or reject)."""
    ok = consent[cols]
    cols, rel, grade = cols[ok], rel[ok], grade[ok]
    length = int(rng.integers(20, 31))
    legacy = rel * np.exp(rng.normal(0, 0.6, len(rel)))
    n_rel = min(len(cols), int(length * rng.uniform(0.5, 0.85)))
    best = top(legacy, n_rel)
    shown = {int(c): (float(legacy[j]), int(grade[j])) for j, c in zip(best, cols[best], strict=True)}
    others = consenting[rng.integers(0, len(consenting), 2 * length)] if len(consenting) else consenting
    other_grade = np.zeros(len(others), dtype=np.int64)
    if len(cols):  # a random pick may still be related: it keeps its true grade
        at = np.minimum(np.searchsorted(cols, others), len(cols) - 1)
        other_grade = np.where(cols[at] == others, grade[at], 0)
    floor = float(np.min(legacy[best])) if n_rel else 0.3
    other_score = rng.uniform(0, 1.2 * floor, len(others))
    for c, s, og in zip(others.tolist(), other_score.tolist(), other_grade.tolist(), strict=True):
        if len(shown) >= length:
            break
        shown.setdefault(c, (s, og))
    order = sorted(shown.items(), key=lambda kv: -kv[1][0])
    n = len(order)
    g = np.array([kv[1][1] for kv in order], dtype=np.int64)
    pos = np.arange(n)
    u = rng.random((6, n))
    examined = u[0] < 0.95 / (1.0 + pos) ** 0.6
    shortlist = examined & (u[1] < _P_SHORTLIST[g])
    contact = shortlist & (u[2] < _P_CONTACT[g])
    interview = contact & (u[3] < _P_INTERVIEW[g])
    hire = interview & (u[4] < _P_HIRE[g])
    passed = examined & ~shortlist & (u[5] < _P_REJECT[g])
    declined = interview & ~hire & (u[5] < 0.6)
    actor = f"recruiter-{int(rng.integers(1, 13)):02d}"
    t0 = need_times[need] + timedelta(days=int(rng.integers(1, 20)), hours=int(rng.integers(0, 8)))
    out = []
    stages = (
        (np.ones(n, dtype=bool), FeedbackAction.impression, 0),
        (examined, FeedbackAction.view, 1),
        (shortlist, FeedbackAction.shortlist, 60),
        (passed, FeedbackAction.reject, 90),
        (contact, FeedbackAction.contact, 60 * 24 * 2),
        (interview, FeedbackAction.interview, 60 * 24 * 9),
        (hire, FeedbackAction.hire, 60 * 24 * 30),
        (declined, FeedbackAction.reject, 60 * 24 * 30),
    )
    for mask, action, minutes in stages:
        for p in np.flatnonzero(mask).tolist():
            out.append(
                {
                    "need": need,
                    "talent": order[p][0],
                    "action": action,
                    "position": p,
                    "actor": actor,
                    "time": t0 + timedelta(minutes=minutes + p),
                }
            )
    return out
