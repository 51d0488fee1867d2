"""Declared relations: talents tied to enterprises (staff, former staff, founders) or to their staff (family,
co-authors), as the office would collect them for the ``conflict`` rule.

Why: a talent tied to a post's enterprise cannot be fairly recruited onto a post the office evaluates, and the
product's ``conflict`` rule removes them from those posts. Without declarations in the world the rule is never
exercised by the demo or the benches. Relations are drawn here from one ``random.Random`` seeded by the caller, after
the talents (and any duplicates) are rendered, so a world without relations is byte-identical to one generated
before this stage existed. The kinds, rates and sources are documented in ``demo/README.md``; the product reads only
the ``relations.jsonl`` records written from them (and the talents' ``employer`` fields), never this module.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from demo.latent import NOW
from features.records import Enterprise, NeedKind, RelationKind

KINDS: tuple[tuple[RelationKind, int], ...] = (
    (RelationKind.employee, 32),
    (RelationKind.former_employee, 26),
    (RelationKind.founder_or_shareholder, 14),
    (RelationKind.family_of_staff, 12),
    (RelationKind.co_author, 16),
)
"""Relation kinds and their weights among the talents with a relation."""
SOURCES: dict[RelationKind, tuple[tuple[str, int], ...]] = {
    RelationKind.employee: (("enterprise HR list", 50), ("talent self-declared", 35), ("platform staff import", 15)),
    RelationKind.former_employee: (("talent self-declared", 60), ("enterprise HR list", 40)),
    RelationKind.founder_or_shareholder: (("business registry import", 70), ("talent self-declared", 30)),
    RelationKind.family_of_staff: (("talent self-declared", 80), ("enterprise HR list", 20)),
    RelationKind.co_author: (("talent self-declared", 55), ("publication database import", 45)),
}
"""Who declares each kind, with weights: the talent, the enterprise's HR list, a registry or database import."""
SECOND = 0.15
"""Share of the related talents who declare a second relation (another kind, another enterprise or person)."""
IN_FIELD = 0.8
"""Share of enterprise relations with an enterprise working in the talent's own field (one that posts needs in it),
when there is one, else any enterprise; likewise the share of co-authors of the talent's own field."""
EMPLOYER_SHOWN = 0.5
"""Share of declared current employees whose profile's ``employer`` is (rewritten to) the enterprise's name; the
others' profiles still name an older employer."""
FOUNDER_DIVESTED = 0.2
"""Share of founder or shareholder relations that ended (shares sold), with an end date."""
EVALUATED = frozenset({NeedKind.special_researcher, NeedKind.incubation_project})
"""The post kinds the world's office evaluates: on them its recruiters never take a currently tied talent, and such
a talent is no right answer in the truth (the posts of the domain that an evaluation panel decides)."""


@dataclass
class Drawn:
    """The relations drawn, as record rows, and what the world itself knows of them."""

    rows: list[dict] = field(default_factory=list)
    current: set[tuple[int, int]] = field(default_factory=set)
    """(enterprise position, talent position) of every tie that holds at the world's present (no end): an employee,
    an undivested founder, and the family and co-authors of a current employee."""
    employers: dict[int, str] = field(default_factory=dict)
    """Talent position → the employer its profile now names (declared employees whose profile shows the enterprise)."""


def _day(days_before_now: int) -> date:
    return (NOW - timedelta(days=days_before_now)).date()


def _name_for(enterprise: Enterprise, talent: dict, rnd: random.Random) -> str:
    """The enterprise as the talent's profile would write it: in the profile's language, sometimes without the
    legal form."""
    name = enterprise.name_en if _writes_english(talent) and enterprise.name_en else enterprise.name
    if rnd.random() < 0.3:
        for suffix in ("有限公司", " Co., Ltd."):
            if name.endswith(suffix):
                return name[: -len(suffix)]
    return name


def _writes_english(talent: dict) -> bool:
    text = talent.get("employer") or talent.get("summary") or talent.get("name") or ""
    return text.isascii()


def draw_relations(
    rnd: random.Random,
    talents: Sequence[dict],
    fields: Sequence[int],
    enterprise_fields: Sequence[frozenset[int]],
    abroad: Sequence[bool],
    enterprises: Sequence[Enterprise],
    share: float,
) -> Drawn:
    """Relations for round(``share`` × talents) talents among ``talents`` (record rows, in position order), each one
    relation (``SECOND`` of them two). ``fields``: each talent's own field (latent area), and ``enterprise_fields``
    each enterprise's (the areas of its needs), to tie most to an enterprise of their field; ``abroad``: who lives
    abroad (never a current employee of a Jiaxing enterprise: a former one, a founder, a relative or co-author
    instead). Dates are before the world's present: a current relation has a start only; a former employee left 30
    days to 7 years ago (so some ties are past any window); a founder who sold has an end. Family and co-author
    relations name a current employee (a declared ``employee``) by the name their profile shows, so the tie goes
    through that person to their enterprise."""
    out = Drawn()
    n = len(talents)
    if not n or not enterprises:
        return out
    by_field: dict[int, list[int]] = {}
    for e, areas in enumerate(enterprise_fields):
        for a in sorted(areas):
            by_field.setdefault(a, []).append(e)
    chosen = sorted(rnd.sample(range(n), min(n, round(n * share))))
    plan: list[tuple[int, RelationKind]] = []
    for t in chosen:
        allowed = [(k, w) for k, w in KINDS if not (abroad[t] and k is RelationKind.employee)]
        first = rnd.choices(*zip(*allowed, strict=True))[0]
        plan.append((t, first))
        if rnd.random() < SECOND:
            rest = [(k, w) for k, w in allowed if k is not first]
            plan.append((t, rnd.choices(*zip(*rest, strict=True))[0]))
    # Enterprise relations first, so that the person relations can name the current employees among them.
    person_kinds = (RelationKind.family_of_staff, RelationKind.co_author)
    plan.sort(key=lambda p: p[1] in person_kinds)
    staff: list[tuple[int, int]] = []  # (talent position, enterprise position) of declared current employees
    taken: set[tuple[str, int, int]] = set()  # ("enterprise", talent, enterprise), ("person", staff, talent)
    for t, kind in plan:
        row = talents[t]
        if kind in person_kinds:
            pool = [s for s in staff if s[0] != t and ("person", s[0], t) not in taken]
            if kind is RelationKind.co_author:  # a co-author works in the same field, mostly
                same = [s for s in pool if fields[s[0]] == fields[t]]
                pool = same if same and rnd.random() < IN_FIELD else pool
            if not pool:
                # nobody on the staff yet: declared as a (former, when abroad) employee instead
                kind = RelationKind.former_employee if abroad[t] else RelationKind.employee
            else:
                s, e = rnd.choice(pool)
                person = talents[s].get("name") or talents[s].get("name_zh") or talents[s].get("name_en")
                if not person:
                    continue
                taken.add(("person", s, t))
                start = _day(rnd.randint(200, 5000)) if kind is RelationKind.co_author else None
                out.rows.append(_row(rnd, row, kind, person=person, start=start))
                out.current.add((e, t))
                continue
        options = by_field.get(fields[t], [])
        e = rnd.choice(options) if options and rnd.random() < IN_FIELD else rnd.randrange(len(enterprises))
        if ("enterprise", t, e) in taken:
            continue
        taken.add(("enterprise", t, e))
        start: date | None = None
        end: date | None = None
        if kind is RelationKind.employee:
            start = _day(rnd.randint(60, 4000))
            staff.append((t, e))
            out.current.add((e, t))
            if rnd.random() < EMPLOYER_SHOWN:
                out.employers[t] = _name_for(enterprises[e], row, rnd)
        elif kind is RelationKind.former_employee:
            end = _day(rnd.randint(30, 7 * 365))
            start = end - timedelta(days=rnd.randint(300, 3000))
        else:  # founder or shareholder
            start = _day(rnd.randint(200, 6000))
            if rnd.random() < FOUNDER_DIVESTED:
                end = start + timedelta(days=rnd.randint(100, max(101, (NOW.date() - start).days - 1)))
            else:
                out.current.add((e, t))
        out.rows.append(_row(rnd, row, kind, enterprise_id=enterprises[e].id, start=start, end=end))
    for k, r in enumerate(out.rows, 1):
        r["id"] = f"R{k:06d}"
    return out


def _row(
    rnd: random.Random,
    talent: dict,
    kind: RelationKind,
    *,
    enterprise_id: str | None = None,
    person: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> dict:
    sources, weights = zip(*SOURCES[kind], strict=True)
    row: dict = {"talent_id": talent["id"], "kind": kind.value, "source": rnd.choices(sources, weights)[0]}
    if enterprise_id is not None:
        row["enterprise_id"] = enterprise_id
    if person is not None:
        row["person"] = person
    if start is not None:
        row["start"] = start.isoformat()
    if end is not None:
        row["end"] = end.isoformat()
    return row
