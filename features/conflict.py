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
from datetime import UTC, date, datetime, timedelta
from hashlib import blake2b

import numpy as np

from features._growable import GrowableVector, in_sorted, ranges
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

TITLE_INDEX_SLACK = 4096
"""Work entries appended since the title index was sorted that a lookup scans before it is sorted again (plus an
eighth of the indexed entries: a bulk import sorts a few times, not once per talent)."""

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
    """Key → the ids filed under it: a lone id as itself, two or more in a set (a set of one weighs 216 bytes). Read
    with ``get``, which gives an iterable either way."""

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


def key_hash(key: str) -> int:
    """A name key's 64-bit hash (BLAKE2b), which is all the ties keep of a talent's names and work titles: two keys
    share one with probability ~2⁻⁶⁴ a pair, and a key string costs ~90 bytes (about one a talent per field)."""
    return int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "little", signed=True)


UNDATED = 0
"""The year of an undated work in ``_Lists`` (a work's year is 1900–2100)."""


class _Lists:
    """Per table row, a short list of key hashes with a year each: a talent's names or work titles as three flat
    arrays (row pointers, hashes, years), appended in row order."""

    def __init__(self, counts: Sequence[int] = (), hashes: Sequence[int] = (), years: Sequence[int] = ()) -> None:
        self._ptr = GrowableVector(np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64))
        self._hash = GrowableVector(np.asarray(hashes, np.int64))
        self._year = GrowableVector(np.asarray(years, np.int16))

    @property
    def hashes(self) -> np.ndarray:
        return self._hash.view

    @property
    def years(self) -> np.ndarray:
        return self._year.view

    def append(self, hashes: Sequence[int], years: Sequence[int]) -> None:
        self._hash.extend(np.asarray(hashes, np.int64))
        self._year.extend(np.asarray(years, np.int16))
        self._ptr.extend(np.array([len(self._hash)], np.int64))

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The entries of ``rows``: (index into ``rows`` of each, entry position)."""
        ptr = self._ptr.view
        starts, lens = ptr[rows], ptr[rows + 1] - ptr[rows]
        return np.repeat(np.arange(len(rows)), lens), ranges(starts, lens)

    def row_at(self, positions: np.ndarray) -> np.ndarray:
        """The row holding each entry position."""
        return np.searchsorted(self._ptr.view, positions, side="right") - 1

    def scrub(self, rows: Sequence[int]) -> None:
        """Zero the entries of ``rows`` (erasure)."""
        _, pos = self.gather(np.asarray(rows, np.int64))
        self.hashes[pos] = 0
        self.years[pos] = UNDATED


def _work_keys(t: Talent) -> dict[int, int]:
    """A talent's work titles (hashed) → the latest year a work of that title is dated (``UNDATED`` when one is
    undated: it counts whatever the window)."""
    works: dict[int, int] = {}
    for w in t.works:
        if not (key := name_key(w.title)):
            continue
        h, year = key_hash(key), UNDATED if w.year is None else w.year
        if h not in works:
            works[h] = year
        elif works[h] != UNDATED:
            works[h] = UNDATED if year == UNDATED else max(works[h], year)
    return works


def _name_keys(t: Talent) -> list[int]:
    """A talent's distinct name keys (its name, Chinese and English names), hashed."""
    return list(dict.fromkeys(key_hash(k) for k in map(name_key, (t.name, t.name_zh, t.name_en)) if k))


@dataclass
class Ties:
    """Talents tied to each enterprise, kept in step with talent, enterprise and relation writes; answers per
    enterprise are cached until the next write or the next day.

    What a talent brings (its employer's name, its names, its works' titles) is held by the row it has in
    ``table`` (the talent table the indices keep in lockstep), in arrays: an employer number each, and names and
    work titles as hashes of their keys (``key_hash``); as Python dicts, tuples and strings they weighed ~560
    bytes a talent (456 MB at 1M). Rows ``table`` tombstones are dead here too; a lookup by work title reads a
    sorted index of the titles plus a scan of those appended since it was sorted."""

    window_days: int = DEFAULT_WINDOW_DAYS
    evaluated: frozenset[NeedKind] = DEFAULT_EVALUATED
    table: TalentTable = field(default_factory=TalentTable)
    """Whose rows the talents' arrays follow: ``put_talent`` comes after the table's ``add``."""
    enterprise_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    by_key: Postings = field(default_factory=Postings)
    """Organisation name key → enterprise ids."""
    employer_keys: list[str] = field(default_factory=list)
    """The distinct employer name keys talents have stated (``employer``: a number into it per row, -1 none)."""
    employer: GrowableVector = field(default_factory=lambda: GrowableVector(np.zeros(0, np.int32)))
    names: _Lists = field(default_factory=_Lists)
    works: _Lists = field(default_factory=_Lists)
    by_talent: Postings = field(default_factory=Postings)
    """Talent id → its relations' ids."""
    relations: dict[str, Relation] = field(default_factory=dict)
    by_enterprise: Postings = field(default_factory=Postings)
    by_person: Postings = field(default_factory=Postings)
    """The hash of a person's name key → the relations naming that person."""
    writes: int = 0
    """Changes so far: a cached ranking made before the last one is stale (``service.ranking.RankCache``)."""
    _employer_no: dict[str, int] = field(default_factory=dict, repr=False)
    _work_index: tuple[np.ndarray, np.ndarray, int] | None = field(default=None, repr=False)
    _cache: dict[tuple[str, date], dict[str, Tie]] = field(default_factory=dict, repr=False)
    _rows: dict[tuple[str, date], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, talents: Sequence[Talent], enterprises: Iterable[Enterprise], relations: Iterable[Relation],
              table: TalentTable | None = None) -> Ties:  # fmt: skip
        """The ties of ``talents``, whose rows in ``table`` are ``0 …`` in their order (a table of them is built
        when none is given)."""
        ties = cls(table=TalentTable.build(talents) if table is None else table)
        if len(ties.table) != len(talents):
            raise ValueError(f"Ties.build: the table has {len(ties.table)} rows for {len(talents)} talents")
        for e in enterprises:
            ties.put_enterprise(e)
        numbers = [ties._employer_number(t) for t in talents]
        names = [_name_keys(t) for t in talents]
        works = [_work_keys(t) for t in talents]
        ties.employer = GrowableVector(np.asarray(numbers, np.int32))
        ties.names = _Lists(list(map(len, names)), [h for n in names for h in n], [UNDATED] * sum(map(len, names)))
        ties.works = _Lists(
            list(map(len, works)), [h for w in works for h in w], [y for w in works for y in w.values()]
        )
        ties._index_works()
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
        """Take the talent's new row in ``table`` (after the table's ``add``: its earlier row is a tombstone there)."""
        rows = self.table.rows([t.id])
        if rows[0] != len(self.employer):
            raise RuntimeError(
                f"ties out of step with the talent table for {t.id!r}: table row {rows[0]}, next ties row "
                f"{len(self.employer)}; add the talent to the table first, then here"
            )
        self.employer.extend(np.array([self._employer_number(t)], np.int32))
        names = _name_keys(t)
        self.names.append(names, [UNDATED] * len(names))
        works = _work_keys(t)
        self.works.append(list(works), list(works.values()))
        self.forget()

    def remove_talent(self, talent_id: str, *, keep_relations: bool = False) -> None:
        """Forget a talent (its rows are the table's tombstones; erasure takes its relations too, as the store's
        cascade does)."""
        if not keep_relations:
            for rid in list(self.by_talent.get(talent_id, ())):
                self.remove_relation(rid)
        self.forget()

    def scrub(self, talent_id: str) -> int:
        """Erasure: zero what every row ``talent_id`` ever had holds (before the table blanks their ids); the
        title index is sorted again on next use. Returns the rows scrubbed."""
        rows = [i for i, rid in enumerate(self.table.ids[: len(self.employer)]) if rid == talent_id]
        self.employer.view[rows] = -1
        self.names.scrub(rows)
        self.works.scrub(rows)
        self._work_index = None
        self.forget()
        return len(rows)

    def put_relation(self, r: Relation) -> None:
        self.remove_relation(r.id)
        self.relations[r.id] = r
        self.by_talent.add(r.talent_id, r.id)
        if r.enterprise_id is not None:
            self.by_enterprise.add(r.enterprise_id, r.id)
        else:
            self.by_person.add(key_hash(name_key(r.person)), r.id)
        self.forget()

    def remove_relation(self, relation_id: str) -> None:
        r = self.relations.pop(relation_id, None)
        if r is not None:
            self._drop(self.by_talent, [r.talent_id], relation_id)
            if r.enterprise_id is not None:
                self._drop(self.by_enterprise, [r.enterprise_id], relation_id)
            else:
                self._drop(self.by_person, [key_hash(name_key(r.person))], relation_id)
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
    def _drop(index: Postings, keys: Iterable, value: str) -> None:
        for k in keys:
            index.discard(k, value)

    def _employer_number(self, t: Talent) -> int:
        if not (key := name_key(t.employer, organisation=True)):
            return -1
        if (number := self._employer_no.get(key)) is None:
            number = self._employer_no[key] = len(self.employer_keys)
            self.employer_keys.append(key)
        return number

    def _index_works(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The work-title hashes sorted (with their entry positions), built again once more than ``TITLE_INDEX_SLACK``
        plus an eighth of the indexed entries have been appended since."""
        index, n = self._work_index, len(self.works.hashes)
        if index is None or n - index[2] > TITLE_INDEX_SLACK + index[2] // 8:
            order = np.argsort(self.works.hashes, kind="stable")
            index = self._work_index = (self.works.hashes[order], order.astype(np.int64), n)
        return index

    # -- questions -----------------------------------------------------------------------------------------------

    def _alive(self) -> np.ndarray:
        return self.table.alive[: len(self.employer)]

    def _listing(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The work entries whose title hash is one of ``wanted`` (unique, sorted): (index into ``wanted``, entry
        position) of each, from the sorted index and a scan of the entries appended since."""
        keys, order, covered = self._index_works()
        lo, hi = np.searchsorted(keys, wanted, "left"), np.searchsorted(keys, wanted, "right")
        which, pos = np.repeat(np.arange(len(wanted)), hi - lo), order[ranges(lo, hi - lo)]
        tail = self.works.hashes[covered:]
        hit = np.flatnonzero(np.isin(tail, wanted))
        return np.concatenate([which, np.searchsorted(wanted, tail[hit])]), np.concatenate([pos, covered + hit])

    def _coauthors(self, rows: np.ndarray, today: date | None = None) -> np.ndarray:
        """Live rows listing a work of the same title as one of ``rows`` (``rows`` themselves among them: a talent
        is tied or not by its own record): titles listed by at most ``SHARED_TITLE_MAX`` live talents, the two works
        dated within the window of ``today`` (the earlier year's end counts; an undated one always does; ``today``
        None: any date)."""
        _, mine = self.works.gather(np.asarray(rows, np.int64))
        if not len(mine):
            return np.zeros(0, np.int64)
        wanted, title = np.unique(self.works.hashes[mine], return_inverse=True)
        which, pos = self._listing(wanted)
        held = self.works.row_at(pos)
        live = self._alive()[held]
        which, pos, held = which[live], pos[live], held[live]
        listed = np.bincount(which, minlength=len(wanted))
        order = np.argsort(which, kind="stable")
        first = np.searchsorted(which[order], np.arange(len(wanted)))
        ok = listed[title] <= SHARED_TITLE_MAX
        src, n = np.flatnonzero(ok), listed[title[ok]]
        pair = order[ranges(first[title[src]], n)]
        if today is None:
            return np.unique(held[pair])
        a, b = self.works.years[mine[np.repeat(src, n)]], self.works.years[pos[pair]]
        cutoff = (today - timedelta(days=min(self.window_days, today.toordinal() - 1))).year
        return np.unique(held[pair][(a == UNDATED) | (b == UNDATED) | (np.minimum(a, b) >= cutoff)])

    def _named(self, person: str) -> np.ndarray:
        """Live rows with a name whose key is ``person``'s."""
        held = self.names.row_at(np.flatnonzero(self.names.hashes == key_hash(name_key(person))))
        return np.unique(held[self._alive()[held]])

    def of(self, enterprise_id: str, today: date | None = None) -> dict[str, Tie]:
        """Talent id → its strongest tie to the enterprise that holds today (within the window)."""
        today = today or datetime.now(UTC).date()
        if (cached := self._cache.get((enterprise_id, today))) is not None:
            return cached
        ties: dict[str, Tie] = {}
        ids = self.table.ids
        employed = np.zeros(len(self.employer), bool)
        for key in self.enterprise_keys.get(enterprise_id, ()):  # one or two keys: a compare each, not np.isin's sort
            if (number := self._employer_no.get(key)) is not None:
                employed |= self.employer.view == number
        for row in np.flatnonzero(employed & self._alive()).tolist():
            self._keep(ties, Tie(ids[row], enterprise_id, RelationKind.employee.value, INFERRED_SOURCE))
        for rid in self.by_enterprise.get(enterprise_id, ()):
            self._keep(ties, self._declared(self.relations[rid], enterprise_id, today))
        staff = self.table.rows([tid for tid, tie in ties.items() if tie.current_employee])
        staff = staff[(staff >= 0) & (staff < len(self.employer))]
        if self.by_person:
            for key in set(self.names.hashes[self.names.gather(staff)[1]].tolist()):
                for rid in self.by_person.get(key, ()):
                    self._keep(ties, self._declared(self.relations[rid], enterprise_id, today))
        for row in self._coauthors(staff, today).tolist():
            self._keep(ties, Tie(ids[row], enterprise_id, RelationKind.co_author.value, WORKS_SOURCE))
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
        row = int(self.table.rows([talent_id])[0])
        live = 0 <= row < len(self.employer)
        out = self._employers_of(row) if live else set()
        for r in map(self.relations.__getitem__, self.by_talent.get(talent_id, ())):
            if r.enterprise_id is not None:
                out.add(r.enterprise_id)
                continue
            for other in self._named(r.person).tolist():  # the person's employers, inferred or declared
                out |= self._employers_of(other)
        for other in self._coauthors(np.array([row])).tolist() if live else ():  # a co-author's employers
            out |= self._employers_of(other)
        return out

    def _employers_of(self, row: int) -> set[str]:
        """The enterprises the talent at ``row`` may work for: by its employer's name, or a declared relation."""
        number = int(self.employer.view[row])
        out = set(self.by_key.get(self.employer_keys[number], ())) if number >= 0 else set()
        staff = map(self.relations.__getitem__, self.by_talent.get(self.table.ids[row], ()))
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
        tied = in_sorted(rows, tied_rows[0])
        internal = in_sorted(rows, tied_rows[1])
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
