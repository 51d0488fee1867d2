"""Graded relevance labels from recruiter feedback: the target the ranker learns.

Why these grades (``DEFAULT_LABELS``): each step of the funnel costs the recruiter more and says more about fit, so
a hire (4) outranks an interview (3), a contact (2) and a shortlist (1). An impression or a view says only that the
talent was shown, and a reject says the recruiter looked and passed: both are 0, the same as an unlabelled
candidate. A pair keeps the highest grade it ever reached (an interviewed talent who later declined still earned
the interview). The map is configurable: ``parse_label_map("hire=4,contact=2")`` overrides single grades.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from features.records import FeedbackAction, FeedbackEvent

MAX_GRADE = 10
"""Grades are integers 0..MAX_GRADE (LightGBM's ``label_gain`` needs one gain per grade)."""

DEFAULT_LABELS: dict[str, int] = {
    "hire": 4,
    "interview": 3,
    "contact": 2,
    "shortlist": 1,
    "view": 0,
    "impression": 0,
    "reject": 0,
}

_ACTIONS = [a.value for a in FeedbackAction]


def labels_from_feedback(
    events: Iterable[FeedbackEvent], label_map: Mapping[str, int] = DEFAULT_LABELS
) -> dict[tuple[str, str], int]:
    """(need_id, talent_id) → the highest grade any of its events earned under ``label_map``."""
    check_label_map(label_map)
    out: dict[tuple[str, str], int] = {}
    for ev in events:
        key = (ev.need_id, ev.talent_id)
        grade = label_map[ev.action.value]
        if grade > out.get(key, -1):
            out[key] = grade
    return out


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
