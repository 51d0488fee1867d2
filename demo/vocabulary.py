"""The demo world's words and places, loaded from the data files in ``demo/data/`` (described in its README).

Why: bilingual skills, names, cities, platforms and sentence templates are data, not logic; keeping them out of
Python keeps the simulator readable and lets the vocabulary grow without touching code. ``Vocabulary`` turns the
expertise areas into flat numpy tables so the latent draws are vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from features.records import NeedKind, Platform, WorkKind
from features.taxonomy import Industry, disciplines

DATA = Path(__file__).with_name("data")

Pair = tuple[str, str]  # (Chinese, English)


def _jsonl(name: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (DATA / name).read_bytes().splitlines() if line.strip()]


def _json(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


def _pairs(rows: list[list[str]]) -> tuple[Pair, ...]:
    return tuple((zh, en) for zh, en in rows)


def _by_lang(row: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {lang: tuple(items) for lang, items in row.items()}


@dataclass(frozen=True, slots=True)
class Area:
    """An expertise area: its industries (none for off-domain areas), NSFC codes and skills (zh, en, *synonyms)."""

    key: str
    zh: str
    en: str
    industries: tuple[Industry, ...]
    nsfc: tuple[str, ...]
    skills: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class IncubatorSpec:
    """An overseas incubator; its city is invented (the real ones are not public)."""

    id: str
    name: str
    name_en: str
    country: str
    city: str
    city_zh: str
    focus_industries: tuple[Industry, ...]


@dataclass(frozen=True, slots=True)
class Country:
    """A foreign country talents come from, study in or live in: its weight among foreign countries, name pool,
    cities, universities and language."""

    code: str
    zh: str
    weight: float
    names: str
    cities: tuple[str, ...]
    universities: tuple[str, ...]
    language: str


@dataclass(frozen=True, slots=True)
class City:
    """A Chinese city talents live in, with its share of residents and whether it is in the Yangtze River Delta."""

    zh: str
    en: str
    in_yrd: bool
    weight: int


AREAS = tuple(
    Area(
        a["key"],
        a["zh"],
        a["en"],
        tuple(Industry(i) for i in a["industries"]),
        tuple(a["nsfc"]),
        tuple(tuple(s) for s in a["skills"]),
    )
    for a in _jsonl("areas.jsonl")
)
PLATFORMS = tuple(Platform(**row) for row in _jsonl("platforms.jsonl"))
INCUBATORS = tuple(
    IncubatorSpec(**{**row, "focus_industries": tuple(Industry(i) for i in row["focus_industries"])})
    for row in _jsonl("incubators.jsonl")
)
COUNTRIES = {
    row["code"]: Country(**{**row, "cities": tuple(row["cities"]), "universities": tuple(row["universities"])})
    for row in _jsonl("countries.jsonl")
}
FOREIGN = tuple(COUNTRIES)  # country codes; latent nationality and study country index into this
CN_CITIES = tuple(City(**row) for row in _jsonl("cities_cn.jsonl"))

_names = _json("names.json")
SURNAMES = _pairs(_names["surnames"])
GIVEN_NAMES = _pairs(_names["given"])
FOREIGN_NAMES = {pool: (tuple(n["given"]), tuple(n["family"])) for pool, n in _names["foreign"].items()}

_phrases = _json("phrases.json")
CN_UNIVERSITIES = _pairs(_phrases["universities_cn"])
BRAND_CHARS = _pairs(_phrases["brand_chars"])
ENTERPRISE_TOWNS = _pairs(_phrases["enterprise_towns"])
INDUSTRY_WORDS: dict[Industry, Pair] = {Industry(k): (zh, en) for k, (zh, en) in _phrases["industry_words"].items()}
POSITIONS = _pairs(_phrases["positions"])
HONOURS = {int(rank): _pairs(rows) for rank, rows in _phrases["honours"].items()}  # by tier rank 1 (E) .. 5 (A)
GENERIC_SKILLS = _pairs(_phrases["generic_skills"])

_templates = _json("templates.json")
NEED_TITLES = {NeedKind(k): _by_lang(v) for k, v in _templates["need_titles"].items()}
VAGUE_NEED_TITLES = _by_lang(_templates["vague_need_titles"])
WORK_TITLES = {WorkKind(k): _by_lang(v) for k, v in _templates["work_titles"].items()}
ABSTRACTS: dict[str, str] = _templates["abstracts"]
VAGUE_SUMMARIES = _by_lang(_templates["vague_summaries"])


class Vocabulary:
    """The areas and skills as flat numpy tables, so latent draws are vectorised."""

    def __init__(self) -> None:
        tree = disciplines()
        children: dict[str, list[str]] = {}
        for d in tree.values():
            if d.parent:
                children.setdefault(d.parent, []).append(d.code)
        self.areas = AREAS
        self.skill_zh: list[str] = []
        self.skill_en: list[str] = []
        self.skill_syn: list[tuple[str, ...]] = []
        area_skills: list[list[int]] = []
        area_leaves: list[list[int]] = []
        self.leaf_codes: list[str] = []
        leaf_index: dict[str, int] = {}
        for a in AREAS:
            ids = []
            for zh, en, *syn in a.skills:
                ids.append(len(self.skill_zh))
                self.skill_zh.append(zh)
                self.skill_en.append(en)
                self.skill_syn.append(tuple(syn))
            area_skills.append(ids)
            leaves = []
            for code in a.nsfc:
                if code not in tree:
                    raise ValueError(f"world vocabulary: area {a.key} names unknown NSFC code {code}")
                for leaf in children.get(code, [code]):
                    leaf_index.setdefault(leaf, len(self.leaf_codes))
                    if leaf_index[leaf] == len(self.leaf_codes):
                        self.leaf_codes.append(leaf)
                    leaves.append(leaf_index[leaf])
            area_leaves.append(leaves)
        self.n_areas = len(AREAS)
        self.n_skills = len(self.skill_zh)
        self.n_leaves = len(self.leaf_codes)
        self.industries = list(Industry)
        self.n_ind = len(self.industries)
        self.area_skills = _pad(area_skills)
        self.area_leaves = _pad(area_leaves)
        ind_pos = {ind: i for i, ind in enumerate(self.industries)}
        self.area_ind = np.zeros((self.n_areas, self.n_ind), dtype=np.float32)
        for i, a in enumerate(AREAS):
            for ind in a.industries:
                self.area_ind[i, ind_pos[ind]] = 1.0
        self.area_primary_ind = np.array([ind_pos[a.industries[0]] if a.industries else -1 for a in AREAS])
        self.areas_of_industry = {ind: [i for i, a in enumerate(AREAS) if ind in a.industries] for ind in Industry}
        missing = [ind.value for ind, ids in self.areas_of_industry.items() if not ids]
        if missing:
            raise ValueError(f"world vocabulary: no expertise area covers industries {missing}")
        self.domain_areas = np.array([i for i, a in enumerate(AREAS) if a.industries])
        self.offdomain_areas = np.array([i for i, a in enumerate(AREAS) if not a.industries])
        # related[a] lists areas sharing an industry with a (its natural second field).
        share = self.area_ind @ self.area_ind.T
        np.fill_diagonal(share, 0)
        self.related = [np.flatnonzero(share[i]) for i in range(self.n_areas)]


@cache
def vocabulary() -> Vocabulary:
    """The vocabulary tables, built once per process (the NSFC tree is read on first use)."""
    return Vocabulary()


def _pad(rows: list[list[int]]) -> np.ndarray:
    out = np.full((len(rows), max(len(r) for r in rows)), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out
