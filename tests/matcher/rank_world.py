"""A small hand-built world for the retrieval, reasons and ranking tests, with the right answers known by design.

The lithography post ``N-litho`` (full time, tier C or above, five required skills, semiconductors) is matched by:

- ``T-litho`` (tier B, English text on all five topics but wafer bonding), ``T-zh`` (Chinese text only: found
  through the bilingual concepts), ``T-optout`` (an expert who refuses purely automated decisions);
- ``T-inc``: no relevant text, but linked to the Munich incubator whose focus is semiconductors (incubator route);
- ``T-local``: no relevant text, but lives in Jiaxing, the post's city (graph proximity only), and states full time;
- and removed by the rules: ``T-noconsent`` (consent), ``T-lowtier`` (tier E), ``T-remote`` (availability).

``T-bio`` is the unrelated protein scientist. Needs ``N-closed`` (closed) and ``N-elite`` (tier A only) repeat the
lithography text for the reciprocal direction.
"""

from __future__ import annotations

from features.indices import Indices
from features.records import (
    Availability,
    Consent,
    Enterprise,
    Incubator,
    Need,
    Platform,
    Residence,
    Talent,
)

LITHO_SKILLS = ["lithography", "photoresist", "metrology", "EUV", "wafer bonding"]
LITHO_TEXT = "EUV lithography process expert: photoresist chemistry, overlay metrology and wafer patterning."


def _litho(tid: str, **extra) -> Talent:
    fields = {"summary": LITHO_TEXT, "skills": ["lithography", "photoresist", "metrology", "EUV"], "tier": "C"}
    return Talent(id=tid, **(fields | extra))


def records() -> dict[str, list]:
    need = {
        "title": "光刻工艺专家 lithography process lead",
        "description": "Develop EUV lithography and photoresist processes for our new fab line.",
        "enterprise_id": "e-fab",
        "required_skills": LITHO_SKILLS,
        "disciplines": ["F040101"],
        "industry": "semiconductors",
        "salary_budget": 60.0,
    }
    return {
        "platform": [Platform(id="p-sci", name="嘉兴科技城", industries=["semiconductors"])],
        "incubator": [
            Incubator(id="inc-muc", name="海纳慕尼黑孵化器", name_en="Haina Munich Incubator", country="DE",
                      city="Munich (synthetic)", city_synthetic=True, focus_industries=["semiconductors"]),
            Incubator(id="inc-syd", name="海纳悉尼孵化器", name_en="Haina Sydney Incubator", country="AU",
                      focus_industries=["life_health"]),
        ],
        "enterprise": [Enterprise(id="e-fab", name="嘉芯半导体", platform_id="p-sci", industries=["semiconductors"])],
        "need": [
            Need(id="N-litho", min_tier="C", **need),
            Need(id="N-closed", min_tier="C", status="closed", **need),
            Need(id="N-elite", min_tier="A", **need),
            Need(id="N-old", title="财务经理 finance manager", enterprise_id="e-fab", status="filled"),
            Need(id="N-bio", title="protein folding scientist", description="Cryo-EM and molecular dynamics.",
                 industry="life_health"),
        ],
        "talent": [
            _litho("T-litho", tier="B", h_index=20, publication_count=60, disciplines=["F040102"],
                   residence=Residence(country="CN", city="上海", in_yrd=True), salary_expectation=45.0),
            Talent(id="T-zh", summary="从事光刻工艺与光刻胶研究多年", skills=["光刻", "光刻胶"], tier="C"),
            _litho("T-optout", consent=Consent(automated_decision_opt_out=True)),
            Talent(id="T-inc", summary="Venture builder: startup operations and fundraising", tier="C",
                   incubator_id="inc-muc", nationality="DE"),
            Talent(id="T-local", summary="Chartered accountant, audit and tax", tier="C",
                   residence=Residence(country="CN", city="嘉兴"), availability=Availability(mode="full_time")),
            _litho("T-noconsent", consent=Consent(matching=False)),
            _litho("T-lowtier", tier="E"),
            _litho("T-remote", availability=Availability(mode="remote")),
            Talent(id="T-bio", summary="Structural biologist: protein folding, cryo-EM, molecular dynamics",
                   skills=["protein folding", "cryo-EM"], tier="A", incubator_id="inc-syd"),
        ],
    }  # fmt: skip


def build(encoder: str | None = None, cache_dir=None) -> Indices:
    return Indices.build(records(), encoder=encoder, cache_dir=cache_dir)
