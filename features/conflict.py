"""Conflict of interest: which talents are tied to which enterprise, for the ``conflict`` eligibility rule.

A tie is declared (a ``Relation`` record: employee, former employee, founder or shareholder, family of staff,
co-author) or inferred: a talent whose stated current ``employer`` is an enterprise's name (Chinese or English,
compared without case, punctuation or a legal-form suffix) is its employee, and a talent whose profile lists a work
of the same title as one of the enterprise's current staff is their co-author or co-inventor (works carry no author
lists; a title that more than ``SHARED_TITLE_MAX`` talents list names no collaboration). A relation naming a person
instead of an enterprise ties the talent to every enterprise that person is staff of (a talent of that name employed
there).

A tie counts while it holds or ended at most ``window_days`` ago (a former employee who left exactly the window ago
is still tied; a day later, not; a shared work counts from the end of its year, and always when it has no year).
Current employees of a need's own enterprise are flagged internal on every post; on the kinds the office evaluates
(``evaluated``) every tie removes the candidate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from sys import intern

import numpy as np

from features.records import Enterprise, Need, NeedKind, Relation, RelationKind, Talent
from features.table import TalentTable

DEFAULT_WINDOW_DAYS = 1095
DEFAULT_EVALUATED = frozenset({NeedKind.special_researcher, NeedKind.incubation_project})
INFERRED_SOURCE = "profile employer"
"""The ``source`` of an employee tie inferred from the talent's own ``employer`` field."""
WORKS_SOURCE = "shared work title"
"""The ``source`` of a co-author tie inferred from a work both profiles list."""
SHARED_TITLE_MAX = 20
"""Talents that may list one work title for it to name a collaboration: beyond, it is a generic title ("Annual
report", "研究进展") that many unrelated profiles carry."""

_NOT_WORD = re.compile(r"[\W_]+")
_LEGAL_FORM = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|集团|公司|corporation|limited|gmbh|corp|coltd|ltd|inc|llc|plc|co)$"
)


def name_key(name: str | None, *, organisation: bool = False) -> str:
    """A name compared without case, width, punctuation or spaces (and, for an organisation, one trailing legal
    form such as 有限公司 or Ltd.): "Acme Chips Ltd." and "ACME chips" are one key."""
    key = _NOT_WORD.sub("", unicodedata.normalize("NFKC", name or "").casefold())
    if organisation and (short := _LEGAL_FORM.sub("", key)):
        key = short
    return key


@dataclass(frozen=True, slots=True)
class Tie:
    """Why a talent is tied to an enterprise: the relation's kind and source (and id, when declared)."""

    talent_id: str
    enterprise_id: str
    kind: str
    source: str
    relation_id: str | None = None
    end: date | None = None

    @property
    def current_employee(self) -> bool:
        return self.kind == RelationKind.employee and self.end is None

    def to_json(self) -> dict:
        """As a receipt keeps it: no talent id and no person's name (a receipt outlives an erasure of either; the
        relation id leads to the relation while it exists)."""
        out = {"kind": self.kind, "source": self.source, "enterprise_id": self.enterprise_id}
        if self.relation_id:
            out["relation_id"] = self.relation_id
        if self.end:
            out["end"] = self.end.isoformat()
        return out


_RANK = {RelationKind.employee: 0, RelationKind.founder_or_shareholder: 1, RelationKind.former_employee: 2,
         RelationKind.family_of_staff: 3, RelationKind.co_author: 4}  # fmt: skip
"""Which tie a receipt names when a talent has several: the strongest."""


class Postings(dict):
    """Key → the ids filed under it: a lone id as itself, two or more in a set. Most names and work titles belong to
    one talent, and a set of one weighs 216 bytes (~40 MB of them at 100k talents). Read with ``get``, which gives
    an iterable either way."""

    def add(self, key: str, member: str) -> None:
        if (held := dict.get(self, key)) is None:
            self[key] = member
        elif isinstance(held, set):
            held.add(member)
        elif held != member:
            self[key] = {held, member}

    def discard(self, key: str, member: str) -> None:
        if (held := dict.get(self, key)) is None:
            return
        if isinstance(held, set):
            held.discard(member)
            if len(held) == 1:
                self[key] = held.pop()
        elif held == member:
            del self[key]

    def get(self, key: str, default: Iterable[str] = ()) -> Iterable[str]:
        held = dict.get(self, key)
        return default if held is None else held if isinstance(held, set) else (held,)


@dataclass
class Ties:
    """Talents tied to each enterprise, kept in step with talent, enterprise and relation writes; answers per
    enterprise are cached until the next write or the next day."""

    window_days: int = DEFAULT_WINDOW_DAYS
    evaluated: frozenset[NeedKind] = DEFAULT_EVALUATED
    enterprise_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    by_key: Postings = field(default_factory=Postings)
    """Organisation name key → enterprise ids."""
    employers: dict[str, str] = field(default_factory=dict)
    """Talent id → its employer's name key."""
    by_employer: Postings = field(default_factory=Postings)
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Talent id → its names' keys, distinct (for relations that name a person; a tuple: a frozenset of one or two
    keys weighs 216 bytes, 18 MB at 100k talents)."""
    by_name: Postings = field(default_factory=Postings)
    by_talent: Postings = field(default_factory=Postings)
    """Talent id → its relations' ids."""
    relations: dict[str, Relation] = field(default_factory=dict)
    by_enterprise: Postings = field(default_factory=Postings)
    by_person: Postings = field(default_factory=Postings)
    works: dict[str, dict[str, int | None]] = field(default_factory=dict)
    """Talent id → its works' title keys → the latest year a work of that title is dated (``None``: undated)."""
    by_work: Postings = field(default_factory=Postings)
    """Work title key → the talents listing it."""
    writes: int = 0
    """Changes so far: a cached ranking made before the last one is stale (``service.ranking.RankCache``)."""
    _cache: dict[tuple[str, date], dict[str, Tie]] = field(default_factory=dict, repr=False)
    _rows: dict[tuple[str, date], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, talents: Iterable[Talent], enterprises: Iterable[Enterprise], relations: Iterable[Relation]
              ) -> Ties:  # fmt: skip
        ties = cls()
        for e in enterprises:
            ties.put_enterprise(e)
        for t in talents:
            ties.put_talent(t)
        for r in relations:
            ties.put_relation(r)
        return ties

    # -- changes -------------------------------------------------------------------------------------------------

    def put_enterprise(self, e: Enterprise) -> None:
        self._drop(self.by_key, self.enterprise_keys.pop(e.id, ()), e.id)
        self.enterprise_keys[e.id] = keys = self.keys_of(e)
        for k in keys:
            self.by_key.add(k, e.id)
        self.forget()

    def put_talent(self, t: Talent) -> None:
        self.remove_talent(t.id, keep_relations=True)
        # keys are interned: an employer's, a name's or a title's key is then one string however many talents share
        # it (and stays one through a snapshot), not one each (~15 MB at 100k talents)
        if key := intern(name_key(t.employer, organisation=True)):
            self.employers[t.id] = key
            self.by_employer.add(key, t.id)
        self.names[t.id] = names = tuple(
            dict.fromkeys(intern(k) for k in map(name_key, (t.name, t.name_zh, t.name_en)) if k)
        )
        for k in names:
            self.by_name.add(k, t.id)
        works: dict[str, int | None] = {}
        for w in t.works:
            if not (key := intern(name_key(w.title))):
                continue
            if key not in works:
                works[key] = w.year
            elif works[key] is not None:  # undated stays undated: it counts whatever the window
                works[key] = None if w.year is None else max(works[key], w.year)
        if works:
            self.works[t.id] = works
            for k in works:
                self.by_work.add(k, t.id)
        self.forget()

    def remove_talent(self, talent_id: str, *, keep_relations: bool = False) -> None:
        """Forget a talent (erasure takes its relations too, as the store's cascade does)."""
        if (key := self.employers.pop(talent_id, None)) is not None:
            self._drop(self.by_employer, [key], talent_id)
        self._drop(self.by_name, self.names.pop(talent_id, ()), talent_id)
        self._drop(self.by_work, self.works.pop(talent_id, ()), talent_id)
        if not keep_relations:
            for rid in list(self.by_talent.get(talent_id, ())):
                self.remove_relation(rid)
        self.forget()

    def put_relation(self, r: Relation) -> None:
        self.remove_relation(r.id)
        self.relations[r.id] = r
        self.by_talent.add(r.talent_id, r.id)
        if r.enterprise_id is not None:
            self.by_enterprise.add(r.enterprise_id, r.id)
        else:
            self.by_person.add(name_key(r.person), r.id)
        self.forget()

    def remove_relation(self, relation_id: str) -> None:
        r = self.relations.pop(relation_id, None)
        if r is not None:
            self._drop(self.by_talent, [r.talent_id], relation_id)
            if r.enterprise_id is not None:
                self._drop(self.by_enterprise, [r.enterprise_id], relation_id)
            else:
                self._drop(self.by_person, [name_key(r.person)], relation_id)
        self.forget()

    def forget(self) -> None:
        """Drop the cached answers: a write may change any enterprise's ties (and a talent's rows)."""
        self.writes += 1
        self._cache.clear()
        self._rows.clear()

    @staticmethod
    def keys_of(e: Enterprise) -> frozenset[str]:
        """The name keys an employer must match to be this enterprise (its Chinese and English names)."""
        return frozenset(k for k in (name_key(e.name, organisation=True), name_key(e.name_en, organisation=True)) if k)

    @staticmethod
    def _drop(index: Postings, keys: Iterable[str], value: str) -> None:
        for k in keys:
            index.discard(k, value)

    # -- questions -----------------------------------------------------------------------------------------------

    def of(self, enterprise_id: str, today: date | None = None) -> dict[str, Tie]:
        """Talent id → its strongest tie to the enterprise that holds today (within the window)."""
        today = today or datetime.now(UTC).date()
        if (cached := self._cache.get((enterprise_id, today))) is not None:
            return cached
        ties: dict[str, Tie] = {}
        for key in self.enterprise_keys.get(enterprise_id, ()):
            for tid in self.by_employer.get(key, ()):
                self._keep(ties, Tie(tid, enterprise_id, RelationKind.employee.value, INFERRED_SOURCE))
        for rid in self.by_enterprise.get(enterprise_id, ()):
            self._keep(ties, self._declared(self.relations[rid], enterprise_id, today))
        staff = [tid for tid, tie in ties.items() if tie.current_employee]
        for key in {k for tid in staff for k in self.names.get(tid, ())}:
            for rid in self.by_person.get(key, ()):
                self._keep(ties, self._declared(self.relations[rid], enterprise_id, today))
        for tid in staff:
            for other in self._coauthors(tid, today):
                self._keep(ties, Tie(other, enterprise_id, RelationKind.co_author.value, WORKS_SOURCE))
        if len(self._cache) > 4096:
            self.forget()
        self._cache[(enterprise_id, today)] = ties
        return ties

    def _declared(self, r: Relation, enterprise_id: str, today: date) -> Tie | None:
        """The relation's tie, unless it ended more than the window ago (or has not begun)."""
        if r.end is not None and (today - r.end).days > self.window_days:
            return None
        if r.start is not None and r.start > today:
            return None
        kind = r.kind.value
        if r.kind is RelationKind.employee and r.end is not None and r.end < today:
            kind = RelationKind.former_employee.value  # an employment that ended is a former one
        end = r.end if r.end is not None and r.end < today else None
        return Tie(r.talent_id, enterprise_id, kind, r.source, r.id, end)

    def _coauthors(self, talent_id: str, today: date | None = None) -> set[str]:
        """Talents listing a work of the same title as ``talent_id`` (dated within the window of ``today``, or
        undated; ``today`` None: any date), each title listed by at most ``SHARED_TITLE_MAX`` talents."""
        out: set[str] = set()
        for key, year in self.works.get(talent_id, {}).items():
            listed = self.by_work.get(key, ())
            if len(listed) > SHARED_TITLE_MAX:
                continue
            for other in listed:
                other_year = self.works[other][key]
                latest = None if year is None or other_year is None else min(year, other_year)
                if today is None or latest is None or (today - date(latest, 12, 31)).days <= self.window_days:
                    out.add(other)
        out.discard(talent_id)
        return out

    @staticmethod
    def _keep(ties: dict[str, Tie], tie: Tie | None) -> None:
        if tie is None:
            return
        old = ties.get(tie.talent_id)
        if old is None or _RANK[RelationKind(tie.kind)] < _RANK[RelationKind(old.kind)]:
            ties[tie.talent_id] = tie

    def enterprises_of(self, talent_id: str) -> set[str]:
        """The enterprises a talent may be tied to (a superset: ``of`` decides): by employer, declared relation, or
        a person relation naming some enterprise's staff."""
        out = set(self.by_key.get(self.employers.get(talent_id, ""), ()))
        for r in map(self.relations.__getitem__, self.by_talent.get(talent_id, ())):
            if r.enterprise_id is not None:
                out.add(r.enterprise_id)
                continue
            for tid in self.by_name.get(name_key(r.person), ()):  # the person's employers, inferred or declared
                out |= self._employers_of(tid)
        for tid in self._coauthors(talent_id):  # a co-author's employers
            out |= self._employers_of(tid)
        return out

    def _employers_of(self, talent_id: str) -> set[str]:
        """The enterprises a talent may work for: by its employer's name, or a declared relation to one."""
        out = set(self.by_key.get(self.employers.get(talent_id, ""), ()))
        staff = map(self.relations.__getitem__, self.by_talent.get(talent_id, ()))
        out.update(x.enterprise_id for x in staff if x.enterprise_id is not None)
        return out

    def check(self, enterprise_id: str | None, kind: NeedKind, rows: np.ndarray, table: TalentTable,
              today: date | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Tie]]:  # fmt: skip
        """For candidate ``rows`` of ``table`` and a need of ``enterprise_id`` and ``kind``: (passes the conflict
        rule, flagged internal, the ties of the tied candidates by talent id). One sorted-array lookup per need: the
        enterprise's tied rows are worked out once (until the next write or day)."""
        n = len(rows)
        if enterprise_id is None or not (ties := self.of(enterprise_id, today)):
            return np.ones(n, dtype=bool), np.zeros(n, dtype=bool), {}
        key = (enterprise_id, today or datetime.now(UTC).date())
        if (tied_rows := self._rows.get(key)) is None:
            ids = sorted(ties)
            rows_of = table.rows(ids)
            internal_of = np.fromiter((ties[i].current_employee for i in ids), dtype=bool, count=len(ids))
            tied_rows = self._rows[key] = (
                np.sort(rows_of[rows_of >= 0]),
                np.sort(rows_of[internal_of & (rows_of >= 0)]),
            )
        tied = np.isin(rows, tied_rows[0])
        internal = np.isin(rows, tied_rows[1])
        passes = ~tied if kind in self.evaluated else np.ones(n, dtype=bool)
        found = {table.ids[r]: ties[table.ids[r]] for r in rows[tied].tolist()}
        return passes, internal, found

    def allows(self, talent_id: str, row: np.ndarray, table: TalentTable, need_ids: Sequence[str],
               needs: Mapping[str, Need]) -> np.ndarray:  # fmt: skip
        """Per need of ``need_ids``, whether the conflict rule lets this talent (at ``row``) be matched to it: the
        many needs × one talent direction (reciprocal needs, alerts). A talent tied to no enterprise costs one
        lookup; otherwise only the needs of its few enterprises are checked."""
        out = np.ones(len(need_ids), dtype=bool)
        if not (tied := self.enterprises_of(talent_id)):
            return out
        for i, nid in enumerate(need_ids):
            n = needs.get(nid)
            if n is not None and n.enterprise_id in tied and n.kind in self.evaluated:
                out[i] = self.check(n.enterprise_id, n.kind, row, table)[0][0]
        return out
