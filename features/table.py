"""Columnar views of talents and needs: one numpy array per attribute the rules and features read.

Rules and features run on rows of these arrays, never on pydantic objects in a loop: a need's columns broadcast
against many talents' rows, or many needs' rows against one talent's, with the same code. Rows are appended on add
and tombstoned on remove (``alive``), so incremental changes cost O(1) and row numbers stay stable; ``compact`` is
not needed until tombstones pile up, and a rebuild gives the same values. Both tables share one language-bit
vocabulary (:class:`Languages`), so a need's required languages and a talent's stated ones compare as bitmasks.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import ClassVar, Self

import numpy as np

from features._growable import GrowableVector
from features.records import AvailabilityMode, Degree, Need, NeedKind, Site, Talent, need_text, talent_text

SITE_BITS = {site: 1 << i for i, site in enumerate(Site)}
MODE_CODES = {mode: i for i, mode in enumerate(AvailabilityMode)}
MODE_UNSTATED = -1
"""``mode`` of a talent who did not state an availability (never assumed to be full time)."""
NOT_FOREIGN = {"CN", "HK", "MO", "TW"}  # Hong Kong, Macao and Taiwan residents do not use the foreign work permit
_DEGREE_POINTS = {Degree.postdoc: 20, Degree.phd: 20, Degree.master: 15, Degree.bachelor: 10, Degree.other: 0}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHANGHAI_NAMES = {"上海", "上海市", "shanghai"}
KIND_CODES = {kind: i for i, kind in enumerate(NeedKind)}
DEFAULT_SPECIAL_RESEARCHER_MONTHS = 2
"""Months a year a special-researcher post asks for when it does not say."""
SCRIPT_SAMPLE = 4000
"""Characters of a text read to tell its script (the share is stable long before; whole profiles cost more)."""
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")


def han_share(text: str) -> float:
    """Share of ``text`` (its first ``SCRIPT_SAMPLE`` characters) written in Chinese script, counting a Chinese word
    as two characters against one Latin word: 1 all Chinese, 0 all Latin (or no letters). Lexical evidence (BM25,
    taxonomy names) can only match between texts in the same script, so the overlap of two texts' shares bounds
    what it can see."""
    text = text[:SCRIPT_SAMPLE]
    han, latin = len(_HAN.findall(text)), len(_LATIN_WORD.findall(text))
    return han / (han + 2 * latin) if han else 0.0


def script_overlap(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """The share of one text in a script the other also writes, from their ``han_share`` values (1 same script,
    0 one all Chinese and the other all Latin)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return np.minimum(a, b) + np.minimum(1 - a, 1 - b)


def _is_shanghai(city: str) -> bool:
    return city.strip().lower() in SHANGHAI_NAMES


def permit_points(t: Talent, now_year: int) -> float:
    """Likely points of China's foreign work-permit scheme (class A ≥ 85, B ≥ 60), estimated from the profile.

    The official table scores salary, education, experience, Chinese, age and region; a profile gives only some of
    these, so unknowns count the midpoint (age 10, experience from the first degree's year or 8). Tiers A–C are the
    "high-level talent" direct route to class A and score 100.
    """
    if t.tier is not None and t.tier.rank >= 3:
        return 100.0
    points = max((_DEGREE_POINTS[e.degree] for e in t.education), default=0)
    years = [e.year for e in t.education if e.year]
    experience = now_year - min(years) if years else 8
    points += min(15, 2 * max(0, experience - 2))
    salary = t.salary_expectation or 0.0  # 万元/年
    points += 20 if salary >= 45 else 17 if salary >= 35 else 14 if salary >= 25 else 11 if salary >= 15 else 0
    points += 5 if "zh" in t.languages else 0
    points += 10  # age: unknown, midpoint
    points += 5 if t.honours else 0
    points += 5 if t.h_index >= 20 else 0
    return float(points)


class Languages:
    """Language code → bit, growing as new codes appear (63 distinct codes at most); shared by both tables."""

    def __init__(self) -> None:
        self.bits: dict[str, int] = {}

    def mask(self, languages: Iterable[str]) -> int:
        mask = 0
        for code in languages:
            bit = self.bits.setdefault(code, len(self.bits))
            if bit >= 63:
                raise ValueError(f"more than 63 distinct language codes; {code!r} cannot be indexed")
            mask |= 1 << bit
        return mask

    def has(self, masks: np.ndarray, code: str) -> np.ndarray:
        """Whether each bitmask holds ``code`` (False for a code no record ever used)."""
        bit = self.bits.get(code)
        return np.zeros(np.shape(masks), bool) if bit is None else (masks & (1 << bit)) != 0


class _ColumnTable:
    """Append-only columns with tombstones: rows of one id space, ``alive`` marking the current ones.

    Each column grows in place (``GrowableVector``, with spare room an index snapshot keeps), and readers get views
    of its live rows: a write appends into spare rows, where a concatenation copied every column (at 1M talents
    ~50 MB, and every page of a loaded snapshot's columns into private memory) at every write."""

    COLUMNS: ClassVar[dict[str, np.dtype]]

    def __init__(self, languages: Languages | None = None) -> None:
        self.languages = languages or Languages()
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self._grown = {name: GrowableVector(np.zeros(0, dtype)) for name, dtype in self.COLUMNS.items()}
        self._cols = self._views()
        self._pending: list[dict] = []
        self._flush_lock = threading.Lock()

    def _views(self) -> dict[str, np.ndarray]:
        return {name: grown.view for name, grown in self._grown.items()}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_flush_lock": None, "_cols": None}  # views of ``_grown``: pickled there

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _flush_lock=threading.Lock())
        self._cols = self._views()

    @classmethod
    def build(cls, records: Iterable, **options) -> Self:
        """A table of ``records`` (``options`` go to the constructor)."""
        table = cls(**options)
        for r in records:
            table.add(r)
        return table

    def add(self, record) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.ids)

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in self.COLUMNS:
            raise AttributeError(name)
        self._flush()
        return self._cols[name]

    def _append(self, record_id: str, values: dict) -> int:
        """Add or replace a record; a replaced record's old row is tombstoned and a new row appended."""
        if record_id in self.row_of:
            self.remove(record_id)
        row = len(self.ids)
        self.ids.append(record_id)
        self.row_of[record_id] = row
        self._pending.append(values)
        return row

    def remove(self, record_id: str) -> bool:
        row = self.row_of.pop(record_id, None)
        if row is None:
            return False
        self._flush()
        self._cols["alive"][row] = False
        return True

    def scrub(self, record_id: str) -> int:
        """Erase every row that ever held ``record_id`` (earlier versions' tombstones too): values zeroed, id blanked;
        the record must be removed first. Returns the rows scrubbed."""
        if record_id in self.row_of:
            raise ValueError(f"{record_id!r} is live; remove it before scrubbing its rows")
        rows = [i for i, rid in enumerate(self.ids) if rid == record_id]
        self._flush()
        for row in rows:
            self.ids[row] = ""
            for col in self._cols.values():
                col[row] = 0
        return len(rows)

    def rows(self, record_ids: Sequence[str]) -> np.ndarray:
        """Row numbers for ids; -1 where the id is unknown or removed."""
        get = self.row_of.get
        return np.fromiter((get(i, -1) for i in record_ids), dtype=np.int64, count=len(record_ids))

    def gather(self, rows: np.ndarray, names: Iterable[str]) -> dict[str, np.ndarray]:
        """The named columns at ``rows`` (plain numpy indexing: callers mask rows of -1 themselves)."""
        self._flush()
        return {name: self._cols[name][rows] for name in names}

    def settle(self) -> None:
        """Append pending rows now (a writer, before readers come)."""
        self._flush()

    def _flush(self) -> bool:
        """Append the pending rows to the columns. Readers may call this concurrently (a first read after a write):
        one of them does it, and ``_cols`` is swapped whole, so a reader never sees columns of two lengths (rows
        appended go to spare rows beyond the views readers hold)."""
        if not self._pending:
            return False
        with self._flush_lock:
            if not self._pending:
                return False
            new = {name: np.array([v[name] for v in self._pending], dtype=dt) for name, dt in self.COLUMNS.items()}
            for name, grown in self._grown.items():
                grown.extend(new[name])
            self._cols = self._views()
            self._pending = []
            return True


class TalentTable(_ColumnTable):
    """Columnar talent attributes, one row per talent ever added (``alive`` marks the current ones)."""

    COLUMNS: ClassVar[dict[str, np.dtype]] = {
        "alive": np.dtype(bool),
        "consent_matching": np.dtype(bool),
        "consent_sharing": np.dtype(bool),
        "tier_rank": np.dtype(np.int8),  # 5 = A … 1 = E, 0 = none
        "mode": np.dtype(np.int8),  # MODE_CODES; MODE_UNSTATED = not stated
        "months": np.dtype(np.int8),  # months a year; 0 = not stated
        "sites": np.dtype(np.int8),  # bitmask of SITE_BITS; 0 = not stated
        "lang_bits": np.dtype(np.int64),  # bitmask over ``language_bits``; 0 = not stated
        "foreign": np.dtype(bool),
        "permit_points": np.dtype(np.float32),
        "in_yrd": np.dtype(np.int8),  # 1 yes, 0 no, -1 unknown
        "abroad": np.dtype(np.int8),  # resides outside the mainland: 1 yes, 0 no, -1 country not stated
        "in_shanghai": np.dtype(np.int8),  # resides in Shanghai (the enclave's city): 1 yes, 0 no, -1 city not stated
        "salary": np.dtype(np.float32),  # NaN = not stated
        "h_index": np.dtype(np.float32),
        "publications": np.dtype(np.float32),
        "patents": np.dtype(np.float32),
        "honours": np.dtype(np.float32),
        "n_works": np.dtype(np.float32),
        "updated_day": np.dtype(np.float32),  # updated_at in days since 1970; NaN = unknown
        "incubator": np.dtype(np.int32),  # the incubator's number in ``_incubator_numbers``; 0 = none
        "han": np.dtype(np.float32),  # share of the profile's text in Chinese script (``han_share``)
    }

    def __init__(self, permit_year: int | None = None, languages: Languages | None = None) -> None:
        super().__init__(languages)
        self.permit_year = permit_year or datetime.now(UTC).year
        self._typical: np.ndarray | None = None
        self._incubator_numbers: dict[str, int] = {}

    def add(self, t: Talent) -> int:
        """Add or replace a talent; a replaced talent's old row is tombstoned and a new row appended."""
        values = self._values(t, self.permit_year)
        values["lang_bits"] = self.lang_mask(t.languages)
        if t.incubator_id is not None:
            numbers = self._incubator_numbers
            values["incubator"] = numbers.setdefault(t.incubator_id, len(numbers) + 1)
        return self._append(t.id, values)

    def incubator_rows(self, incubator_ids: Iterable[str]) -> np.ndarray:
        """The live rows of talents linked to any of these incubators, ascending: one comparison a row per
        incubator over a column (~0.5 ms at 1M talents), where listing the graph's links by talent id took ~5 ms."""
        self._flush()
        column = self._cols["incubator"]
        hit = np.zeros(len(column), dtype=bool)
        for number in {self._incubator_numbers.get(i, 0) for i in incubator_ids} - {0}:
            hit |= column == number
        rows = np.flatnonzero(hit)
        return rows[self._cols["alive"][rows]]

    def remove(self, talent_id: str) -> bool:
        self._typical = None
        return super().remove(talent_id)

    def lang_mask(self, languages: Iterable[str]) -> int:
        """Bitmask of languages in the shared vocabulary (``Languages.mask``)."""
        return self.languages.mask(languages)

    def salary_estimate(self, rows: np.ndarray) -> np.ndarray:
        """Stated salary expectation of ``rows``, or where unstated (half of real profiles) the median stated one of
        live talents of the same tier. Tier is the city's own grade of seniority, which every profile in its scheme
        has; grouping by anything finer (nationality, field, residence) would be a hand-made model of pay, and how
        pay matters is the ranker's to learn: it sees ``salary_ratio`` (NaN when unstated) and ``tier_rank`` too.
        NaN where the row is -1 or no peer of the tier states a salary."""
        rows = np.asarray(rows, dtype=np.int64)
        self._flush()  # new rows invalidate the medians
        c = self._cols
        if self._typical is None:
            stated = c["alive"] & ~np.isnan(c["salary"])
            tiers = c["tier_rank"].astype(np.int64)
            self._typical = np.array(
                [np.median(c["salary"][stated & (tiers == t)]) if (stated & (tiers == t)).any() else np.nan
                 for t in range(6)],
                dtype=np.float32,
            )  # fmt: skip
        safe = np.maximum(rows, 0)
        typical = self._typical[c["tier_rank"][safe].astype(np.int64)]
        out = np.where(np.isnan(c["salary"][safe]), typical, c["salary"][safe])
        return np.where(rows >= 0, out, np.nan).astype(np.float32)

    def _flush(self) -> bool:
        if flushed := super()._flush():
            self._typical = None
        return flushed

    @staticmethod
    def _values(t: Talent, permit_year: int) -> dict:
        sites = 0
        for s in t.sites:
            sites |= SITE_BITS[s]
        updated = t.updated_at
        if updated is not None and updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        return {
            "alive": True,
            "consent_matching": t.consent.matching,
            "consent_sharing": t.consent.sharing,
            "tier_rank": t.tier.rank if t.tier else 0,
            "mode": MODE_UNSTATED if t.availability.mode is None else MODE_CODES[t.availability.mode],
            "months": t.availability.months_per_year or 0,
            "sites": sites,
            "foreign": t.nationality is not None and t.nationality not in NOT_FOREIGN,
            "permit_points": permit_points(t, permit_year),
            "in_yrd": -1 if t.residence.in_yrd is None else int(t.residence.in_yrd),
            "abroad": -1 if t.residence.country is None else int(t.residence.country != "CN"),
            "in_shanghai": -1 if not (t.residence.city or "").strip() else int(_is_shanghai(t.residence.city)),
            "salary": np.nan if t.salary_expectation is None else t.salary_expectation,
            "h_index": t.h_index,
            "publications": t.publication_count,
            "patents": t.patent_count,
            "honours": len(t.honours),
            "n_works": len(t.works),
            "updated_day": np.nan if updated is None else (updated - EPOCH).total_seconds() / 86400.0,
            "incubator": 0,
            "han": han_share(talent_text(t)),
        }


def required_site(need: Need) -> Site:
    """The site a post is worked at: the Shanghai enclave for enclave posts, else the one it names."""
    return Site.shanghai_enclave if need.kind is NeedKind.enclave else need.site


class NeedTable(_ColumnTable):
    """Columnar need attributes (what the rules and the fit columns read), one row per need ever added.

    ``Indices`` keeps one over all its needs, in lockstep with the other indices; ``frame`` gives the same columns
    for a need that is not stored (an ad-hoc query), so one need and many stored ones go through the same code."""

    COLUMNS: ClassVar[dict[str, np.dtype]] = {
        "alive": np.dtype(bool),
        "min_rank": np.dtype(np.int16),  # minimum tier rank, 0 = none
        "need_months": np.dtype(np.int16),  # months a year (special researchers: the default when unstated)
        "kind": np.dtype(np.int8),  # KIND_CODES
        "site_bit": np.dtype(np.int64),  # SITE_BITS of ``required_site``
        "lang_bits": np.dtype(np.int64),  # bitmask over the shared ``Languages``; 0 = none required
        "budget": np.dtype(np.float32),  # salary budget; NaN = not stated
        "n_skills": np.dtype(np.float32),
        "needs_zh": np.dtype(bool),  # posts in Jiaxing work in Chinese unless they name other languages
        "needs_en": np.dtype(bool),
        "han": np.dtype(np.float32),  # share of the need's text in Chinese script (``han_share``)
    }

    def add(self, n: Need) -> int:
        """Add or replace a need; a replaced need's old row is tombstoned and a new row appended."""
        return self._append(n.id, self._values(n, self.languages))

    def frame(self, n: Need) -> dict[str, np.ndarray]:
        """The columns of one need as length-1 arrays, without storing it."""
        return self.columns_of(n, self.languages)

    @classmethod
    def columns_of(cls, n: Need, languages: Languages) -> dict[str, np.ndarray]:
        """``frame`` without a table: the columns of ``n`` with language bits from ``languages``."""
        return {name: np.array([v], dtype=cls.COLUMNS[name]) for name, v in cls._values(n, languages).items()}

    @staticmethod
    def _values(n: Need, languages: Languages) -> dict:
        default = DEFAULT_SPECIAL_RESEARCHER_MONTHS if n.kind is NeedKind.special_researcher else 0
        return {
            "alive": True,
            "min_rank": n.min_tier.rank if n.min_tier else 0,
            "need_months": n.months_per_year or default,
            "kind": KIND_CODES[n.kind],
            "site_bit": SITE_BITS[required_site(n)],
            "lang_bits": languages.mask(n.languages),
            "budget": n.salary_budget or np.nan,
            "n_skills": len(n.required_skills),
            "needs_zh": "zh" in (set(n.languages) or {"zh"}),
            "needs_en": "en" in n.languages,
            "han": han_share(need_text(n)),
        }
