"""Candidate cards: the only form in which talent data reaches an enterprise (PIPL: sharing needs its own consent)."""

from __future__ import annotations

from features.records import Talent
from service.api.schemas import MASKED_NAME, TalentCard
from service.keys import Principal, Role


def reveals_identity(principal: Principal) -> bool:
    """The talent office's own roles see names on cards; an enterprise sees them only with sharing consent."""
    return principal.role is not Role.enterprise


def talent_card(talent: Talent, *, reveal: bool) -> TalentCard:
    """A candidate card. Name and contact are shown when ``reveal`` (the viewer is the office itself, see
    ``reveals_identity``) or the talent consented to sharing; otherwise the card is masked: id, tier, skills,
    disciplines, residence country / YRD and availability only."""
    shown = reveal or talent.consent.sharing
    return TalentCard(
        id=talent.id,
        masked=not shown,
        name=talent.display_name if shown else MASKED_NAME,
        name_en=talent.name_en if shown else None,
        email=talent.email if shown else None,
        phone=talent.phone if shown else None,
        tier=talent.tier,
        skills=talent.skills,
        disciplines=talent.disciplines,
        residence_country=talent.residence.country,
        in_yrd=talent.residence.in_yrd,
        availability=talent.availability,
    )
