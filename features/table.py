"""A columnar view of talents: one numpy array per attribute the rules and features read.

Rules and features run on candidate rows of these arrays, never on pydantic objects in a loop. Rows are appended on
add and tombstoned on remove (``alive``), so incremental changes cost O(1) and row numbers stay stable; ``compact``
is not needed until tombstones pile up, and a rebuild gives the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import numpy as np

from features.records import AvailabilityMode, Degree, Site, Talent

SITE_BITS = {site: 1 << i for i, site in enumerate(Site)}
MODE_CODES = {mode: i for i, mode in enumerate(AvailabilityMode)}
NOT_FOREIGN = {"CN", "HK", "MO", "TW"}  # Hong Kong, Macao and Taiwan residents do not use the foreign work permit
_DEGREE_POINTS = {Degree.postdoc: 20, Degree.phd: 20, Degree.master: 15, Degree.bachelor: 10, Degree.other: 0}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHANGHAI_NAMES = {"上海", "上海市", "shanghai"}


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


class TalentTable:
    """Columnar talent attributes, one row per talent ever added (``alive`` marks the current ones)."""

    COLUMNS: ClassVar[dict[str, np.dtype]] = {
        "alive": np.dtype(bool),
        "consent_matching": np.dtype(bool),
        "consent_sharing": np.dtype(bool),
        "tier_rank": np.dtype(np.int8),  # 5 = A … 1 = E, 0 = none
        "mode": np.dtype(np.int8),
        "months": np.dtype(np.int8),
        "sites": np.dtype(np.int8),  # bitmask of SITE_BITS; 0 = not stated
        "lang_bits": np.dtype(np.int64),  # bitmask over ``language_bits``; 0 = not stated
        "foreign": np.dtype(bool),
        "permit_points": np.dtype(np.float32),
        "in_yrd": np.dtype(np.int8),  # 1 yes, 0 no, -1 unknown
        "abroad": np.dtype(np.int8),  # resides outside the mainland: 1 yes, 0 no, -1 country not stated
        "in_shanghai": np.dtype(bool),  # resides in Shanghai (the enclave's city)
        "salary": np.dtype(np.float32),  # NaN = not stated
        "h_index": np.dtype(np.float32),
        "publications": np.dtype(np.float32),
        "patents": np.dtype(np.float32),
        "honours": np.dtype(np.float32),
        "n_works": np.dtype(np.float32),
        "updated_day": np.dtype(np.float32),  # updated_at in days since 1970; NaN = unknown
        "has_incubator": np.dtype(bool),
    }

    def __init__(self, permit_year: int | None = None) -> None:
        self.permit_year = permit_year or datetime.now(UTC).year
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.language_bits: dict[str, int] = {}
        self._cols = {name: np.zeros(0, dtype) for name, dtype in self.COLUMNS.items()}
        self._pending: list[dict] = []
        self._typical: np.ndarray | None = None

    @classmethod
    def build(cls, talents: Iterable[Talent], permit_year: int | None = None) -> TalentTable:
        table = cls(permit_year)
        for t in talents:
            table.add(t)
        return table

    def __len__(self) -> int:
        return len(self.ids)

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in self.COLUMNS:
            raise AttributeError(name)
        self._flush()
        return self._cols[name]

    def add(self, t: Talent) -> int:
        """Add or replace a talent; a replaced talent's old row is tombstoned and a new row appended."""
        if t.id in self.row_of:
            self.remove(t.id)
        row = len(self.ids)
        self.ids.append(t.id)
        self.row_of[t.id] = row
        values = self._values(t, self.permit_year)
        values["lang_bits"] = self.lang_mask(t.languages)
        self._pending.append(values)
        return row

    def remove(self, talent_id: str) -> bool:
        row = self.row_of.pop(talent_id, None)
        if row is None:
            return False
        self._flush()
        self._cols["alive"][row] = False
        self._typical = None
        return True

    def lang_mask(self, languages: Iterable[str]) -> int:
        """Bitmask of languages, growing the vocabulary as new codes appear (63 distinct codes at most)."""
        mask = 0
        for code in languages:
            bit = self.language_bits.setdefault(code, len(self.language_bits))
            if bit >= 63:
                raise ValueError(f"more than 63 distinct language codes; {code!r} cannot be indexed")
            mask |= 1 << bit
        return mask

    def salary_estimate(self, rows: np.ndarray) -> np.ndarray:
        """Stated salary expectation of ``rows``, or where unstated (half of real profiles) the median stated one
        of live talents with the same tier and foreign status: salary follows tier, and a budget test on an
        unknown salary is otherwise blind. NaN where the row is -1 or no peer states a salary."""
        rows = np.asarray(rows, dtype=np.int64)
        self._flush()  # new rows invalidate the medians
        if self._typical is None:
            c = self._cols
            group = c["tier_rank"].astype(np.int64) * 2 + c["foreign"]
            stated = c["alive"] & ~np.isnan(c["salary"])
            self._typical = np.array(
                [
                    np.median(c["salary"][stated & (group == g)]) if (stated & (group == g)).any() else np.nan
                    for g in range(12)
                ],
                dtype=np.float32,
            )
        c, safe = self._cols, np.maximum(rows, 0)
        typical = self._typical[c["tier_rank"][safe].astype(np.int64) * 2 + c["foreign"][safe]]
        out = np.where(np.isnan(c["salary"][safe]), typical, c["salary"][safe])
        return np.where(rows >= 0, out, np.nan).astype(np.float32)

    def rows(self, talent_ids: Sequence[str]) -> np.ndarray:
        """Row numbers for ids; -1 where the id is unknown or removed."""
        get = self.row_of.get
        return np.fromiter((get(i, -1) for i in talent_ids), dtype=np.int64, count=len(talent_ids))

    def _flush(self) -> None:
        if not self._pending:
            return
        new = {name: np.array([v[name] for v in self._pending], dtype=dt) for name, dt in self.COLUMNS.items()}
        self._cols = {name: np.concatenate([self._cols[name], new[name]]) for name in self.COLUMNS}
        self._pending = []
        self._typical = None

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
            "mode": MODE_CODES[t.availability.mode],
            "months": t.availability.months_per_year or 0,
            "sites": sites,
            "foreign": t.nationality is not None and t.nationality not in NOT_FOREIGN,
            "permit_points": permit_points(t, permit_year),
            "in_yrd": -1 if t.residence.in_yrd is None else int(t.residence.in_yrd),
            "abroad": -1 if t.residence.country is None else int(t.residence.country != "CN"),
            "in_shanghai": (t.residence.city or "").strip().lower() in SHANGHAI_NAMES,
            "salary": np.nan if t.salary_expectation is None else t.salary_expectation,
            "h_index": t.h_index,
            "publications": t.publication_count,
            "patents": t.patent_count,
            "honours": len(t.honours),
            "n_works": len(t.works),
            "updated_day": np.nan if updated is None else (updated - EPOCH).total_seconds() / 86400.0,
            "has_incubator": t.incubator_id is not None,
        }
