"""The demo world's data files: every table the generator looks things up in covers what it will look up, so an edit
to ``demo/data/`` fails here with a name rather than deep inside a generation run."""

from __future__ import annotations

from demo.latent import TIERS
from demo.vocabulary import (
    ABSTRACTS,
    AREAS,
    COUNTRIES,
    FOREIGN_NAMES,
    HONOURS,
    INCUBATORS,
    INDUSTRY_WORDS,
    NEED_TITLES,
    PLATFORMS,
    VAGUE_NEED_TITLES,
    VAGUE_SUMMARIES,
    WORK_TITLES,
    vocabulary,
)
from features.records import NeedKind, WorkKind
from features.taxonomy import Industry


def test_areas_build_and_cover_every_industry() -> None:
    v = vocabulary()  # raises on an unknown NSFC code or an industry no area covers
    assert v.n_areas == len(AREAS) and len({a.key for a in AREAS}) == len(AREAS)
    assert all(len(s) >= 2 and all(s) for a in AREAS for s in a.skills)  # (zh, en, *synonyms), none empty
    assert len(v.offdomain_areas) > 0  # talents nobody asks for: realistic noise in the pool


def test_lookups_cover_their_keys() -> None:
    assert set(INDUSTRY_WORDS) == set(Industry)
    assert set(HONOURS) == set(range(1, len(TIERS)))
    assert all(c.names in FOREIGN_NAMES and c.cities and c.universities for c in COUNTRIES.values())
    assert set(NEED_TITLES) == set(NeedKind) and set(WORK_TITLES) == set(WorkKind)
    for table in (*NEED_TITLES.values(), *WORK_TITLES.values(), VAGUE_NEED_TITLES, VAGUE_SUMMARIES, ABSTRACTS):
        assert set(table) == {"zh", "en"} and all(table.values())


def test_platforms_and_incubators_have_unique_ids_and_industries() -> None:
    for rows, industries in ((PLATFORMS, "industries"), (INCUBATORS, "focus_industries")):
        assert len({r.id for r in rows}) == len(rows)
        assert all(getattr(r, industries) for r in rows)
