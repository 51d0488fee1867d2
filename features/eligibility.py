"""Hard rules of the city's policy: which candidates a need may consider, and which rule removed the others.

Each rule is a vectorised check over rows of a :class:`~features.table.TalentTable`. Unknown attributes (a sparse
import that never stated sites or languages) pass: a rule removes only talents the records show do not fit. Soft
preferences (YRD residence, salary against budget) are features, not rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from features.records import AvailabilityMode, Need, NeedKind, Site
from features.table import MODE_CODES, SITE_BITS, TalentTable

PERMIT_CLASS_B = 60.0
PERMIT_CLASS_A = 85.0
DEFAULT_SPECIAL_RESEARCHER_MONTHS = 2


class Rule(StrEnum):
    """The rules in the order they are reported: a removed candidate is charged to the first rule it fails."""

    consent = "consent"
    tier = "tier"
    availability = "availability"
    site = "site"
    language = "language"
    work_permit = "work_permit"


RULE_TEXT: dict[Rule, tuple[str, str]] = {
    Rule.consent: ("consented to matching", "已同意匹配"),
    Rule.tier: ("meets the minimum talent tier", "满足最低人才层次"),
    Rule.availability: ("availability fits the post kind", "可工作时间符合岗位类型"),
    Rule.site: ("accepts the work site", "接受工作地点"),
    Rule.language: ("speaks the required languages", "掌握要求的语言"),
    Rule.work_permit: ("likely work-permit class A or B", "预计可获A类或B类工作许可"),
}


@dataclass(frozen=True)
class Eligibility:
    """Per-rule pass/fail for candidate rows, with the margins the feature matrix uses."""

    rows: np.ndarray
    checks: dict[Rule, np.ndarray]
    tier_gap: np.ndarray
    months_surplus: np.ndarray

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

    def removed_counts(self) -> dict[str, int]:
        names, counts = np.unique(self.removed_by(), return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts, strict=True) if n}


def required_site(need: Need) -> Site:
    return Site.shanghai_enclave if need.kind is NeedKind.enclave else need.site


def check(need: Need, table: TalentTable, rows: np.ndarray) -> Eligibility:
    """Apply every rule to ``rows`` of ``table``; unknown (-1) and removed rows fail consent."""
    rows = np.asarray(rows, dtype=np.int64)
    alive = (rows >= 0) & table.alive[rows]
    mode = table.mode[rows]
    months = table.months[rows].astype(np.int16)
    tier = table.tier_rank[rows].astype(np.int16)
    min_rank = need.min_tier.rank if need.min_tier else 0
    need_months = need.months_per_year or (
        DEFAULT_SPECIAL_RESEARCHER_MONTHS if need.kind is NeedKind.special_researcher else 0
    )

    remote = mode == MODE_CODES[AvailabilityMode.remote]
    if need.kind is NeedKind.special_researcher:
        available = ~remote & (months >= need_months)
    elif need.kind is NeedKind.full_time:
        available = mode == MODE_CODES[AvailabilityMode.full_time]
    elif need.kind is NeedKind.enclave:
        available = ~remote
    else:  # an incubation project moves with its venture; availability is the venture's, not the person's
        available = np.ones(len(rows), dtype=bool)

    sites = table.sites[rows]
    site_ok = (sites == 0) | ((sites & SITE_BITS[required_site(need)]) != 0)
    need_langs = table.lang_mask(need.languages)
    langs = table.lang_bits[rows]
    lang_ok = (langs == 0) | ((langs & need_langs) == need_langs)
    permit_ok = ~table.foreign[rows] | (table.permit_points[rows] >= PERMIT_CLASS_B)
    if need.kind is NeedKind.special_researcher:
        permit_ok = np.ones(len(rows), dtype=bool)  # a stay of a few months a year can use a short-term permit

    checks = {
        Rule.consent: alive & table.consent_matching[rows],
        Rule.tier: tier >= min_rank,
        Rule.availability: available,
        Rule.site: site_ok,
        Rule.language: lang_ok,
        Rule.work_permit: permit_ok,
    }
    return Eligibility(
        rows=rows,
        checks=checks,
        tier_gap=(tier - min_rank).astype(np.float32),
        months_surplus=(months - need_months).astype(np.float32),
    )
