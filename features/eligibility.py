"""Hard rules of the city's policy: which candidates a need may consider, and which rule removed the others.

Each rule is one vectorised expression over need columns and talent columns (:mod:`features.table`) that
broadcast: one need against many talents (ranking) or many needs against one talent (alerts). Unknown attributes
(a sparse import that never stated sites or languages) pass: a rule removes only talents the records show do not
fit. Soft preferences (YRD residence, salary against budget) are features, not rules. The ``conflict`` rule is per
enterprise, not per column: ``check`` applies it from the indices' ``features.conflict.Ties``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from features.conflict import Tie, Ties
from features.records import AvailabilityMode, Need, NeedKind
from features.table import KIND_CODES, MODE_CODES, MODE_UNSTATED, NeedTable, TalentTable

PERMIT_CLASS_B = 60.0
PERMIT_CLASS_A = 85.0


class Rule(StrEnum):
    """The rules in the order they are reported: a removed candidate is charged to the first rule it fails."""

    consent = "consent"
    tier = "tier"
    availability = "availability"
    site = "site"
    language = "language"
    work_permit = "work_permit"
    conflict = "conflict"


RULE_TEXT: dict[Rule, tuple[str, str]] = {
    Rule.consent: ("consented to matching", "已同意匹配"),
    Rule.tier: ("meets the minimum talent tier", "满足最低人才层次"),
    Rule.availability: ("availability fits the post kind", "可工作时间符合岗位类型"),
    Rule.site: ("accepts the work site", "接受工作地点"),
    Rule.language: ("speaks the required languages", "掌握要求的语言"),
    Rule.work_permit: ("likely work-permit class A or B", "预计可获A类或B类工作许可"),
    Rule.conflict: ("no tie to the enterprise on an evaluated post", "与该企业无利益关联（评审类岗位）"),
}


@dataclass(frozen=True)
class Eligibility:
    """Per-rule pass/fail for candidate rows, with the margins the feature matrix uses; ``internal`` flags the
    need's own enterprise's current employees (not new recruits), ``ties`` the relation behind each conflict."""

    rows: np.ndarray
    checks: dict[Rule, np.ndarray]
    tier_gap: np.ndarray
    months_surplus: np.ndarray
    internal: np.ndarray | None = None
    ties: dict[str, Tie] = field(default_factory=dict)

    @property
    def passed(self) -> np.ndarray:
        out = np.ones(len(self.rows), dtype=bool)
        for ok in self.checks.values():
            out &= ok
        return out

    def removed_by(self) -> np.ndarray:
        """The first failed rule's name per candidate ('' where all passed)."""
        out = np.full(len(self.rows), "", dtype=object)
        for rule in reversed(Rule):
            out[~self.checks[rule]] = rule.value
        return out

    def take(self, positions: np.ndarray) -> Eligibility:
        """The checks and margins of these positions only."""
        return Eligibility(
            rows=self.rows[positions],
            checks={rule: ok[positions] for rule, ok in self.checks.items()},
            tier_gap=self.tier_gap[positions],
            months_surplus=self.months_surplus[positions],
            internal=None if self.internal is None else self.internal[positions],
            ties=self.ties,
        )

    def removed_counts(self) -> dict[str, int]:
        """How many candidates each rule removed first (as ``removed_by``), by rule name in name order: counted on
        the checks' booleans, not on ``removed_by``'s strings (~1,500 candidates a ranking)."""
        counts, left = {}, np.ones(len(self.rows), dtype=bool)
        for rule in Rule:
            if n := int(np.count_nonzero(left & ~self.checks[rule])):
                counts[rule.value] = n
            left &= self.checks[rule]
        return dict(sorted(counts.items()))


TALENT_COLUMNS = ("consent_matching", "tier_rank", "mode", "months", "sites", "lang_bits", "foreign", "permit_points")
"""The talent-table columns the rules read."""


def rules(need: Mapping[str, np.ndarray], talent: Mapping[str, np.ndarray], alive: np.ndarray, rows: np.ndarray
          ) -> Eligibility:  # fmt: skip
    """Every rule for (need, talent) pairs from their columns (``NeedTable`` and ``TalentTable`` columns, either
    side of length 1 or both of one length: they broadcast). ``alive`` is False for talents that are unknown,
    erased or tombstoned; ``rows`` are the rows the result reports (the longer side's)."""
    kind, min_rank, need_months = need["kind"], need["min_rank"], need["need_months"]
    mode = talent["mode"]
    months = talent["months"].astype(np.int16)
    tier = talent["tier_rank"].astype(np.int16)
    shape = np.broadcast_shapes(np.shape(kind), np.shape(mode))

    remote = mode == MODE_CODES[AvailabilityMode.remote]
    unstated = mode == MODE_UNSTATED  # an availability never stated passes, as other unknowns do
    special = kind == KIND_CODES[NeedKind.special_researcher]
    available = np.where(  # an incubation project moves with its venture: availability is the venture's
        special,
        unstated | (~remote & (months >= need_months)),
        np.where(
            kind == KIND_CODES[NeedKind.full_time],
            unstated | (mode == MODE_CODES[AvailabilityMode.full_time]),
            (kind != KIND_CODES[NeedKind.enclave]) | ~remote,
        ),
    )
    sites, langs, need_langs = talent["sites"], talent["lang_bits"], need["lang_bits"]
    site_ok = (sites == 0) | ((sites & need["site_bit"]) != 0)
    lang_ok = (langs == 0) | ((langs & need_langs) == need_langs)
    # a stay of a few months a year (special researchers) can use a short-term permit
    permit_ok = special | ~talent["foreign"] | (talent["permit_points"] >= PERMIT_CLASS_B)

    checks = {
        Rule.consent: alive & talent["consent_matching"],
        Rule.tier: tier >= min_rank,
        Rule.availability: available,
        Rule.site: site_ok,
        Rule.language: lang_ok,
        Rule.work_permit: permit_ok,
        Rule.conflict: np.ones(1, dtype=bool),  # per enterprise, not per column: ``check`` applies it
    }
    return Eligibility(
        rows=rows,
        checks={rule: _to(ok, shape) for rule, ok in checks.items()},
        tier_gap=_to(tier - min_rank, shape).astype(np.float32),
        months_surplus=_to(months - need_months, shape).astype(np.float32),
    )


def _to(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``values`` at the pairs' shape (a read-only broadcast view only where it is shorter)."""
    return values if values.shape == shape else np.broadcast_to(values, shape)


def talent_columns(table: TalentTable, rows: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(the rule columns of ``rows``, whether each row is a live talent); rows of -1 are not alive."""
    rows = np.asarray(rows, dtype=np.int64)
    return table.gather(rows, TALENT_COLUMNS), (rows >= 0) & table.alive[rows]


def check(need: Need, table: TalentTable, rows: np.ndarray, ties: Ties | None = None) -> Eligibility:
    """Apply every rule to ``rows`` of ``table``; unknown (-1) and removed rows fail consent. ``ties`` (the
    indices' relations) adds the conflict rule and the internal flag; without them no one is in conflict."""
    rows = np.asarray(rows, dtype=np.int64)
    talent, alive = talent_columns(table, rows)
    e = rules(NeedTable.columns_of(need, table.languages), talent, alive, rows)
    if ties is None:
        return e
    passes, internal, found = ties.check(need.enterprise_id, need.kind, rows, table)
    return replace(e, checks={**e.checks, Rule.conflict: passes}, internal=internal, ties=found)
