"""The simulated recruiter: the legacy system's feedback on each need, drawn from the hidden truth.

Why: the product learns from feedback, not from the truth. This module turns the true grades into what a real
deployment would log — a noisy legacy ranking, position-biased attention, a click funnel and some shortlists of
near misses — so training meets the biases it would meet in service. How noisy is drawn per seed
(``draw_recruiter``), so the product cannot be tuned to one level of noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from demo.relevance import top
from features.records import FeedbackAction

# The click model at click scale 1, indexed by true grade 0..4: the chance of each step given the one before.
_P_SHORTLIST = np.array([0.03, 0.15, 0.32, 0.52, 0.72])
_P_REJECT = np.array([0.55, 0.35, 0.18, 0.08, 0.04])
_P_CONTACT = np.array([0.2, 0.4, 0.5, 0.62, 0.75])
_P_INTERVIEW = np.array([0.05, 0.2, 0.35, 0.5, 0.6])
_P_HIRE = np.array([0.0, 0.0, 0.04, 0.2, 0.4])
_P_MAX = 0.95  # a scaled funnel step is never certain

RECRUITER_RANGES: dict[str, tuple[float, float]] = {
    "legacy_noise": (0.3, 1.2),
    "examine_top": (0.8, 0.99),
    "position_decay": (0.4, 1.1),
    "click_scale": (0.65, 1.35),
    "near_miss_share": (0.0, 0.5),
}
"""Uniform range of each ``RecruiterParams`` field."""


@dataclass(frozen=True)
class RecruiterParams:
    """How the simulated recruiters of one world behave, drawn per seed by ``draw_recruiter``.

    - ``legacy_noise``: the legacy ranking orders talents by true relevance × exp(N(0, legacy_noise)).
    - ``examine_top``, ``position_decay``: position bias — the talent at position p (0-based) is examined with
      chance examine_top / (1 + p) ** position_decay.
    - ``click_scale``: multiplies the shortlist, contact, interview and hire chances of every grade (capped at 0.95).
    - ``near_miss_share``: about this share of all shortlists are near misses — shown talents that are related to
      the need but not relevant (grade 0), the closest first, viewed and shortlisted — on top of the grade-0 clicks
      of the click model.
    """

    legacy_noise: float
    examine_top: float
    position_decay: float
    click_scale: float
    near_miss_share: float


def draw_recruiter(rng: np.random.Generator) -> RecruiterParams:
    """One world's recruiter parameters, uniform in ``RECRUITER_RANGES`` and rounded to 4 decimals."""
    return RecruiterParams(**{k: round(float(rng.uniform(lo, hi)), 4) for k, (lo, hi) in RECRUITER_RANGES.items()})


def simulate_feedback(
    rng: np.random.Generator,
    need: int,
    cols: np.ndarray,
    rel: np.ndarray,
    grade: np.ndarray,
    consenting: np.ndarray,
    consent: np.ndarray,
    need_times: list[datetime],
    p: RecruiterParams,
) -> list[dict]:
    """One legacy ranking shown to one recruiter: a noisy order of related and random consenting talents, acted on
    through a position-bias click model (examine → view → shortlist → contact → interview → hire, or reject), with
    near-miss shortlists mixed in."""
    ok = consent[cols]
    cols, rel, grade = cols[ok], rel[ok], grade[ok]
    length = int(rng.integers(20, 31))
    legacy = rel * np.exp(rng.normal(0, p.legacy_noise, len(rel)))
    n_rel = min(len(cols), int(length * rng.uniform(0.5, 0.85)))
    best = top(legacy, n_rel)
    shown = {int(c): (float(legacy[j]), int(grade[j]), float(rel[j])) for j, c in zip(best, cols[best], strict=True)}
    others = consenting[rng.integers(0, len(consenting), 2 * length)] if len(consenting) else consenting
    other_grade, other_rel = np.zeros(len(others), dtype=np.int64), np.zeros(len(others))
    if len(cols):  # a random pick may still be related: it keeps its true grade and relevance
        at = np.minimum(np.searchsorted(cols, others), len(cols) - 1)
        related = cols[at] == others
        other_grade, other_rel = np.where(related, grade[at], 0), np.where(related, rel[at], 0.0)
    floor = float(np.min(legacy[best])) if n_rel else 0.3
    other_score = rng.uniform(0, 1.2 * floor, len(others))
    for c, s, og, orel in zip(
        others.tolist(), other_score.tolist(), other_grade.tolist(), other_rel.tolist(), strict=True
    ):
        if len(shown) >= length:
            break
        shown.setdefault(c, (s, og, orel))
    order = sorted(shown.items(), key=lambda kv: -kv[1][0])
    n = len(order)
    g = np.array([kv[1][1] for kv in order], dtype=np.int64)
    r = np.array([kv[1][2] for kv in order])
    pos = np.arange(n)
    u = rng.random((6, n))
    examined = u[0] < p.examine_top / (1.0 + pos) ** p.position_decay
    shortlist = examined & (u[1] < _scaled(_P_SHORTLIST, p)[g])
    near = np.flatnonzero(~shortlist & (g == 0) & (r > 0))  # related but not relevant: the near misses
    k = int(rng.poisson(p.near_miss_share / (1.0 - p.near_miss_share) * np.count_nonzero(shortlist)))
    picked = near[top(r[near], min(k, len(near)))]  # the closest first, wherever the list shows them
    examined[picked] = shortlist[picked] = True
    contact = shortlist & (u[2] < _scaled(_P_CONTACT, p)[g])
    interview = contact & (u[3] < _scaled(_P_INTERVIEW, p)[g])
    hire = interview & (u[4] < _scaled(_P_HIRE, p)[g])
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
        for i in np.flatnonzero(mask).tolist():
            out.append(
                {
                    "need": need,
                    "talent": order[i][0],
                    "action": action,
                    "position": i,
                    "actor": actor,
                    "time": t0 + timedelta(minutes=minutes + i),
                }
            )
    return out


def pass_over(events: list[dict], blocked: set[tuple[int, int]]) -> list[dict]:
    """The feedback once the recruiters respect the office's conflict-of-interest policy: a talent whose (need,
    talent) pair is ``blocked`` is still shown and may be viewed, but is never shortlisted or taken further; a
    viewed one is rejected 90 minutes after the view. Other events are kept as they were, in order."""
    if not blocked:
        return events
    out = []
    for e in events:
        if (e["need"], e["talent"]) not in blocked:
            out.append(e)
        elif e["action"] in (FeedbackAction.impression, FeedbackAction.view):
            out.append(e)
            if e["action"] is FeedbackAction.view:
                out.append({**e, "action": FeedbackAction.reject, "time": e["time"] + timedelta(minutes=90)})
    return out


def _scaled(chances: np.ndarray, p: RecruiterParams) -> np.ndarray:
    return np.minimum(chances * p.click_scale, _P_MAX)
