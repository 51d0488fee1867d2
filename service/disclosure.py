"""What an enterprise may learn of a talent beyond the candidate card: which ranking filters it may use and what the
reasons may say. PIPL: an enterprise sees talent only as cards (``service.api.cards``); a filter on an attribute the
card hides, or a reason quoting one, would tell it that attribute by another road (filter by nationality X, see who
remains).

A card shows tier and residence country (and skills, disciplines, YRD, availability, which are not filters); it
hides nationality, languages, acceptable sites, residence city, incubator and the stated salary. The office's roles
see everything.
"""

from __future__ import annotations

from collections.abc import Mapping

CARD_FILTERS = {"tier": "tier", "residence": "residence_country"}
"""Ranking filters (query parameter → the card field showing the same attribute) an enterprise may use."""

PLAIN_REASONS = {
    "salary": ("salary expectation within budget", "期望薪酬在预算内"),
    "incubator": ("linked through an incubator", "经由孵化器关联"),
}
"""Reason code → its text without what a card hides: ``salary`` quotes the talent's stated expectation (ratio ×
budget), ``incubator`` names the talent's incubator."""

WITHHELD_REASONS = frozenset({"permit", "rule:work_permit", "language", "site"})
"""Reason codes an enterprise never reads: a work-permit estimate (class, points) or rule exists only for a foreign
national, so even its presence tells the nationality; ``language`` and ``site`` tell the languages and sites a
talent stated (or the city lived in), where the rules passed (``rule:language``, ``rule:site``) say all the post
needs."""


def hidden_filters(given: Mapping[str, object]) -> list[str]:
    """The filters among ``given`` (query parameter → value; ``None`` or empty is not given) that a card hides."""
    return [name for name, value in given.items() if value not in (None, [], ()) and name not in CARD_FILTERS]


def enterprise_reasons(reasons: list[dict]) -> list[dict]:
    """Reasons as an enterprise may read them: nothing a card hides (salary figures, the incubator's name, the
    nationality a work permit implies, stated languages and sites). Applying it twice changes nothing."""
    if not any(r["code"] in PLAIN_REASONS or r["code"] in WITHHELD_REASONS for r in reasons):
        return reasons
    return [
        {**r, "en": PLAIN_REASONS[r["code"]][0], "zh": PLAIN_REASONS[r["code"]][1]} if r["code"] in PLAIN_REASONS else r
        for r in reasons
        if r["code"] not in WITHHELD_REASONS
    ]
