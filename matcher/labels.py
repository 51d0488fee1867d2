"""Graded relevance labels from recruiter feedback: the target the ranker learns.

Why these grades (``DEFAULT_LABELS``): each step of the funnel costs the recruiter more and says more about fit, so
a hire (4) outranks an interview (3), a contact (2) and a shortlist (1). An offer sits between interview and hire
and, grades being integers, earns the interview's 3: it says the enterprise judged the fit, but only a hire says the
talent chose the post too, and the ranker should learn who comes. An impression or a view says only that the
talent was shown, and a reject says the recruiter looked and passed: both are 0. A pair keeps the highest grade
its judgements reached (an interviewed talent who later declined still earned the interview); a judgement
(shortlist … offer, hire, reject) overrides the exposure events (impression, view), so a map with ``view=1`` still
grades a viewed-then-rejected talent as a reject. The map is configurable: ``parse_label_map("hire=4,contact=2")``.

What the grades cannot say is whether a 0 was ever judged: ``exposure_from_feedback`` keeps, per pair, the position
it was shown at and whether the recruiter examined it (any action beyond the impression), and
``examination_propensity`` estimates from the same feedback how likely a talent shown at each position is examined.
Training uses both to treat unexamined talents as unknown and to undo position bias (``matcher.train``).

Feedback is about a person, not a record: the same person may arrive as several talent records (``features.people``),
and a recruiter judges whichever one the ranking showed. ``fold_persons`` gives each (need, person) one record — the
one first judged — so labels, exposure and the rows built from them count the person once, and the other records of
a judged person never pass for strangers (``matcher.dataset`` keeps them out of the negatives).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sklearn.isotonic import IsotonicRegression

from features.records import FeedbackAction, FeedbackEvent

MAX_GRADE = 10
"""Grades are integers 0..MAX_GRADE (LightGBM's ``label_gain`` needs one gain per grade)."""

DEFAULT_LABELS: dict[str, int] = {
    "hire": 4,
    "offer": 3,
    "interview": 3,
    "contact": 2,
    "shortlist": 1,
    "view": 0,
    "impression": 0,
    "reject": 0,
}

_ACTIONS = [a.value for a in FeedbackAction]
EXPOSURES = frozenset({FeedbackAction.impression, FeedbackAction.view})
"""Events that say a talent was shown or opened, not what the recruiter thought of it."""


Persons = Mapping[str, str]
"""Talent id → person id for the records that share their person with another (``features.people.link``'s
``persons``, or the store's ``person_members`` read by ``service.people.person_map``); a record not named stands alone.
The matcher never reads the store: the service passes this down."""


def person_key(persons: Persons | None, talent_id: str) -> str:
    """The person of ``talent_id`` (the record itself when it stands alone)."""
    return persons.get(talent_id, talent_id) if persons else talent_id


def fold_persons(events: Sequence[FeedbackEvent], persons: Persons | None) -> list[FeedbackEvent]:
    """``events`` with every (need, person)'s events addressed to one record of the person: the record of its
    earliest judgement (shortlist … hire, reject) for the need, else of its earliest event (by time, undated last;
    ties in input order). Feedback on any record of a person then grades the person once — its highest judgement, as
    for one record —, and its exposure (position, examined) joins its records'. Events of persons seen on one record
    only, and every event when ``persons`` is empty, are returned as they are."""
    events = list(events)
    if not persons:
        return events
    order = sorted(range(len(events)), key=lambda i: (events[i].time is None, events[i].time or datetime.min))
    first: dict[tuple[str, str], str] = {}
    judged: dict[tuple[str, str], str] = {}
    records: dict[tuple[str, str], set[str]] = {}
    for i in order:
        ev = events[i]
        key = (ev.need_id, person_key(persons, ev.talent_id))
        first.setdefault(key, ev.talent_id)
        if ev.action not in EXPOSURES:
            judged.setdefault(key, ev.talent_id)
        records.setdefault(key, set()).add(ev.talent_id)
    out = []
    for ev in events:
        key = (ev.need_id, person_key(persons, ev.talent_id))
        if len(records[key]) > 1:
            chosen = judged.get(key, first[key])
            if chosen != ev.talent_id:
                ev = ev.model_copy(update={"talent_id": chosen})
        out.append(ev)
    return out


def labels_from_feedback(
    events: Iterable[FeedbackEvent], label_map: Mapping[str, int] = DEFAULT_LABELS
) -> dict[tuple[str, str], int]:
    """(need_id, talent_id) → the highest grade of its judgements under ``label_map``, or of its exposure events
    (impression, view) when it has no judgement."""
    check_label_map(label_map)
    judged: dict[tuple[str, str], int] = {}
    exposed: dict[tuple[str, str], int] = {}
    for ev in events:
        key = (ev.need_id, ev.talent_id)
        into = exposed if ev.action in EXPOSURES else judged
        grade = label_map[ev.action.value]
        if grade > into.get(key, -1):
            into[key] = grade
    return {key: judged.get(key, grade) for key, grade in {**exposed, **judged}.items()}


@dataclass(frozen=True, slots=True)
class Exposure:
    """How a pair met the recruiter: ``position`` is the smallest position it was shown at (None when no event
    gives one); ``examined`` says the recruiter opened or judged it (any action beyond the impression); ``judged``
    that it has a judgement (shortlist … offer, hire, reject), not only exposure events."""

    position: int | None
    examined: bool
    judged: bool = False


def exposure_from_feedback(events: Iterable[FeedbackEvent]) -> dict[tuple[str, str], Exposure]:
    """(need_id, talent_id) → its ``Exposure`` over all its events."""
    position: dict[tuple[str, str], int | None] = {}
    examined: dict[tuple[str, str], bool] = {}
    judged: dict[tuple[str, str], bool] = {}
    for ev in events:
        key = (ev.need_id, ev.talent_id)
        old = position.get(key)
        position[key] = ev.position if old is None else old if ev.position is None else min(old, ev.position)
        examined[key] = examined.get(key, False) or ev.action is not FeedbackAction.impression
        judged[key] = judged.get(key, False) or ev.action not in EXPOSURES
    return {key: Exposure(position[key], examined[key], judged[key]) for key in position}


MIN_PROPENSITY = 0.05
"""Floor of the examination propensity relative to the top position: inverse weights stay at most 20."""


def examination_propensity(exposure: Mapping[tuple[str, str], Exposure], floor: float = MIN_PROPENSITY) -> np.ndarray:
    """Examination propensity by position, relative to position 0: ``p[i]`` for position ``i`` (positions past the
    end use the last entry). Estimated from the feedback itself as the share of talents shown at a position that
    the recruiter examined, made non-increasing in position (isotonic, weighted by talents shown) and floored at
    ``floor``. This is the examination rate times the relevance of what the legacy ranking put there, so it
    overstates the drop where that ranking was good; it is the estimate feedback alone allows (no swap
    experiments). All ones when no exposure has a position."""
    shown = [(e.position, e.examined) for e in exposure.values() if e.position is not None]
    if not shown:
        return np.ones(1)
    pos = np.array([p for p, _ in shown])
    seen = np.array([x for _, x in shown], dtype=np.float64)
    n = np.bincount(pos)
    rate = np.bincount(pos, weights=seen) / np.maximum(n, 1)
    at = np.flatnonzero(n)
    fit = IsotonicRegression(increasing=False).fit(at, rate[at], sample_weight=n[at])
    curve = fit.predict(np.arange(len(n)))
    top = curve[0]
    if top <= 0:
        return np.ones(len(n))
    return np.clip(curve / top, floor, 1.0)


def check_label_map(label_map: Mapping[str, int]) -> None:
    """Raise ``ValueError`` unless every feedback action has an integer grade in 0..MAX_GRADE."""
    unknown = sorted(set(label_map) - set(_ACTIONS))
    if unknown:
        raise ValueError(f"label map: unknown action(s) {', '.join(unknown)}; actions are {', '.join(_ACTIONS)}")
    missing = [a for a in _ACTIONS if a not in label_map]
    if missing:
        raise ValueError(
            f"label map: no grade for {', '.join(missing)}; give every action a grade (see DEFAULT_LABELS)"
        )
    for action, grade in label_map.items():
        if isinstance(grade, bool) or not isinstance(grade, int) or not 0 <= grade <= MAX_GRADE:
            raise ValueError(f"label map: grade of {action!r} must be an integer 0..{MAX_GRADE}, got {grade!r}")
    if max(label_map.values()) == 0:
        raise ValueError("label map: every grade is 0, so nothing is relevant; give at least one action a grade >= 1")


def parse_label_map(text: str, base: Mapping[str, int] = DEFAULT_LABELS) -> dict[str, int]:
    """``"hire=4,contact=2"`` → ``base`` with those grades replaced (the CLI's ``--labels``). Empty text → ``base``."""
    out = dict(base)
    seen: set[str] = set()
    for i, part in enumerate((p.strip() for p in text.split(",")), 1):
        if not part:
            continue
        action, sep, value = (s.strip() for s in part.partition("="))
        where = f"label map item {i} ({part!r})"
        if not sep or not action or not value:
            raise ValueError(f"{where}: expected ACTION=GRADE, e.g. hire=4,contact=2")
        if action not in _ACTIONS:
            raise ValueError(f"{where}: unknown action {action!r}; actions are {', '.join(_ACTIONS)}")
        if action in seen:
            raise ValueError(f"{where}: {action!r} is given twice; give each action once")
        try:
            grade = int(value)
        except ValueError:
            raise ValueError(f"{where}: grade {value!r} is not an integer; use 0..{MAX_GRADE}") from None
        if not 0 <= grade <= MAX_GRADE:
            raise ValueError(f"{where}: grade {grade} is outside 0..{MAX_GRADE}")
        seen.add(action)
        out[action] = grade
    check_label_map(out)
    return out
