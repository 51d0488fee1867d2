"""The latent draws: what each talent and need really is, before anything is written down.

Why: the truth must be a function of hidden attributes (true expertise and strengths, willingness to move, a
need's true requirements) that the records only show through noise; the ranker then has to read the records well.
Every draw is a vectorised numpy draw from one seeded generator, so the same seed gives the same world.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

from demo.vocabulary import CN_CITIES, COUNTRIES, FOREIGN, INCUBATORS, Vocabulary
from features.records import NeedKind, Tier

TIERS = (None, Tier.E, Tier.D, Tier.C, Tier.B, Tier.A)  # indexed by rank 0..5
NOW = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)  # the world's present: every date is drawn before it
_TIER_P = np.array([0.465, 0.30, 0.15, 0.06, 0.02, 0.005])  # the pyramid: none, E, D, C, B, A
_SALARY_BY_RANK = ((18, 45), (35, 70), (50, 100), (80, 150), (150, 300), (300, 800))  # 万元/年
_KIND_P = {
    NeedKind.special_researcher: 0.25,
    NeedKind.enclave: 0.2,
    NeedKind.full_time: 0.4,
    NeedKind.incubation_project: 0.15,
}
KINDS = tuple(_KIND_P)


@dataclass
class Latent:
    """Latent arrays, one row per talent (``t_*``) or need (``n_*``). The truth is a function of these alone."""

    t_area: np.ndarray
    t_area2: np.ndarray  # secondary area or -1
    t_skills: sp.csr_matrix  # talents × skills, true strengths
    t_leaves: sp.csr_matrix  # talents × NSFC leaves
    t_tier: np.ndarray  # rank 0..5
    t_quality: np.ndarray
    t_origin: np.ndarray  # 0 domestic, 1 returnee, 2 foreign national of Chinese origin, 3 foreign national
    t_country: np.ndarray  # nationality index into FOREIGN (or -1 for CN)
    t_abroad: np.ndarray
    t_city: np.ndarray  # index into CN_CITIES (domestic residents) or foreign city slot
    t_yrd: np.ndarray
    t_relocate: np.ndarray
    t_short_months: np.ndarray  # 0 = unwilling to come short term
    t_shanghai_ok: np.ndarray
    t_lang_zh: np.ndarray
    t_lang_en: np.ndarray
    t_salary: np.ndarray
    t_incubator: np.ndarray  # index into INCUBATORS or -1
    t_consent: np.ndarray  # matching consent
    t_study_country: np.ndarray  # where returnees studied
    t_pubs: np.ndarray
    t_patents: np.ndarray
    n_area: np.ndarray
    n_industry: np.ndarray  # index into Industry
    n_enterprise: np.ndarray
    n_kind: np.ndarray  # index into KINDS
    n_skills: sp.csr_matrix
    n_leaves: sp.csr_matrix
    n_min_tier: np.ndarray
    n_months: np.ndarray
    n_lang_zh: np.ndarray
    n_lang_en: np.ndarray
    n_budget: np.ndarray  # NaN = no stated budget


def _sample_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray, k: np.ndarray) -> sp.csr_matrix:
    """For each row i, pick ``k[i]`` distinct non-padding entries of ``table[rows[i]]`` (vectorised): a 0/1 CSR."""
    cand = table[rows]
    keys = rng.random(cand.shape)
    keys[cand < 0] = 2.0
    order = np.argsort(keys, axis=1)
    picked = np.take_along_axis(cand, order, axis=1)
    k = np.minimum(k, (cand >= 0).sum(axis=1))
    mask = np.arange(cand.shape[1])[None, :] < k[:, None]
    r, c = np.nonzero(mask)
    width = int(table.max()) + 1
    return sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, picked[r, c])), shape=(len(rows), width))


def draw_needs(rng: np.random.Generator, v: Vocabulary, n_needs: int, ent_ind: list[list[int]]) -> dict:
    """The needs' latent columns (``n_*``): each enterprise posts at least one need in one of its industries."""
    ind_list = v.industries
    n_ent = len(ent_ind)
    ent = rng.integers(0, n_ent, n_needs)
    ent[: min(n_ent, n_needs)] = np.arange(min(n_ent, n_needs))  # every enterprise posts at least one need
    ent.sort()
    industry = np.array([ent_ind[e][rng.integers(len(ent_ind[e]))] for e in ent])
    area = np.array([rng.choice(v.areas_of_industry[ind_list[i]]) for i in industry])
    kind = rng.choice(len(KINDS), n_needs, p=list(_KIND_P.values()))
    k = rng.integers(3, 7, n_needs)
    skills = _sample_rows(rng, v.area_skills, area, k)
    skills.data = rng.uniform(0.6, 1.0, skills.nnz).astype(np.float32)
    leaves = _sample_rows(rng, v.area_leaves, area, rng.integers(1, 3, n_needs))
    min_tier = rng.choice(6, n_needs, p=[0.4, 0.22, 0.2, 0.12, 0.05, 0.01])
    months = np.where(kind == KINDS.index(NeedKind.special_researcher), rng.integers(2, 7, n_needs), 0)
    lang_en = rng.random(n_needs) < 0.3
    lang_zh = ~lang_en | (rng.random(n_needs) < 0.5)
    lo = np.array([s[0] for s in _SALARY_BY_RANK])[min_tier]
    hi = np.array([s[1] for s in _SALARY_BY_RANK])[min_tier]
    budget = np.round(rng.uniform(lo, hi * 1.3) / 5) * 5
    budget[rng.random(n_needs) < 0.3] = np.nan
    return dict(
        n_area=area,
        n_industry=industry,
        n_enterprise=ent,
        n_kind=kind,
        n_skills=skills,
        n_leaves=leaves,
        n_min_tier=min_tier,
        n_months=months,
        n_lang_zh=lang_zh,
        n_lang_en=lang_en,
        n_budget=budget,
    )


def draw_talents(rng: np.random.Generator, v: Vocabulary, n: int, need_area: np.ndarray) -> dict:
    """The talents' latent columns (``t_*``): supply follows the needs' demand for areas, plus off-domain noise."""
    demand = np.bincount(need_area, minlength=v.n_areas).astype(float) + 1.0
    demand[v.offdomain_areas] = 0
    p = 0.92 * demand / demand.sum()
    p[v.offdomain_areas] = 0.08 / len(v.offdomain_areas)
    area = rng.choice(v.n_areas, n, p=p)
    needed = np.unique(need_area)
    area[: min(n, len(needed))] = needed[: min(n, len(needed))]  # every asked-for area has someone
    has2 = rng.random(n) < 0.3
    area2 = np.full(n, -1)
    for a in np.unique(area[has2]):
        idx = np.flatnonzero(has2 & (area == a))
        pool = v.related[a] if len(v.related[a]) else v.domain_areas
        area2[idx] = rng.choice(pool, len(idx))
    skills = _sample_rows(rng, v.area_skills, area, rng.integers(3, 8, n))
    skills.data = rng.uniform(0.5, 1.0, skills.nnz).astype(np.float32)
    if has2.any():
        idx = np.flatnonzero(has2)
        s2 = _sample_rows(rng, v.area_skills, area2[idx], rng.integers(1, 3, len(idx)))
        s2.data = rng.uniform(0.3, 0.7, s2.nnz).astype(np.float32)
        extra = sp.csr_matrix((s2.data, s2.indices, s2.indptr), shape=(len(idx), v.n_skills))
        place = sp.csr_matrix((np.ones(len(idx), dtype=np.float32), (idx, np.arange(len(idx)))), shape=(n, len(idx)))
        skills = sp.csr_matrix(skills, shape=(n, v.n_skills)) + place @ extra
        skills.data = np.minimum(skills.data, 1.0)
    leaves = _sample_rows(rng, v.area_leaves, area, rng.integers(1, 4, n))
    leaves = sp.csr_matrix((leaves.data, leaves.indices, leaves.indptr), shape=(n, v.n_leaves))

    tier = rng.choice(6, n, p=_TIER_P)
    quality = rng.normal(0, 1, n) + 0.35 * tier
    origin = rng.choice(4, n, p=[0.68, 0.20, 0.05, 0.07])
    weights = np.array([c.weight for c in COUNTRIES.values()])
    country = np.where(origin >= 2, rng.choice(len(FOREIGN), n, p=weights / weights.sum()), -1)
    study_country = rng.choice(len(FOREIGN), n, p=weights / weights.sum())
    # Talents of incubator ventures (about 3 %, mostly still abroad), usually at an incubator focused on their field.
    incubator = np.full(n, -1)
    inc_of_ind: dict[int, list[int]] = {}
    for j, inc in enumerate(INCUBATORS):
        for ind in inc.focus_industries:
            inc_of_ind.setdefault(v.industries.index(ind), []).append(j)
    in_inc = np.flatnonzero(rng.random(n) < 0.03)
    for t in in_inc:
        opts = inc_of_ind.get(int(v.area_primary_ind[area[t]]), [])
        incubator[t] = opts[rng.integers(len(opts))] if opts and rng.random() < 0.85 else rng.integers(len(INCUBATORS))
    abroad = np.where(origin == 1, rng.random(n) < 0.4, np.where(origin >= 2, rng.random(n) < 0.8, False))
    abroad |= (incubator >= 0) & (rng.random(n) < 0.7)
    cw = np.array([c.weight for c in CN_CITIES], dtype=float)
    city = np.where(abroad, rng.integers(0, 5, n), rng.choice(len(CN_CITIES), n, p=cw / cw.sum()))
    cn_yrd = np.array([c.in_yrd for c in CN_CITIES])
    yrd = ~abroad & cn_yrd[np.where(abroad, 0, city)]
    shanghai = ~abroad & (city == 0)
    relocate = rng.random(n) < np.where(yrd, 0.55, np.where(abroad, 0.3, 0.42)) * np.where(tier >= 4, 0.4, 1.0)
    short_months = np.where(rng.random(n) < np.where(tier >= 3, 0.65, 0.45), rng.choice([1, 2, 2, 3, 3, 4, 6], n), 0)
    shanghai_ok = shanghai | (rng.random(n) < np.where(yrd, 0.6, 0.3))
    lang_zh = origin <= 2
    lang_zh |= rng.random(n) < 0.15
    lang_en = np.where(origin == 0, rng.random(n) < 0.55 + 0.08 * tier, True)
    lo = np.array([s[0] for s in _SALARY_BY_RANK])[tier]
    hi = np.array([s[1] for s in _SALARY_BY_RANK])[tier]
    salary = rng.uniform(lo, hi) * np.where(origin >= 2, 1.3, 1.0)
    consent = rng.random(n) >= 0.08
    pubs = rng.poisson(np.exp(1.2 + 0.45 * tier + 0.25 * quality))
    patents = rng.poisson(0.4 + 0.8 * tier + 0.3 * (origin == 0))
    return dict(
        t_area=area,
        t_area2=area2,
        t_skills=skills,
        t_leaves=leaves,
        t_tier=tier,
        t_quality=quality,
        t_origin=origin,
        t_country=country,
        t_abroad=abroad,
        t_city=city,
        t_yrd=yrd,
        t_relocate=relocate,
        t_short_months=short_months,
        t_shanghai_ok=shanghai_ok,
        t_lang_zh=lang_zh,
        t_lang_en=lang_en,
        t_salary=salary,
        t_incubator=incubator,
        t_consent=consent,
        t_study_country=study_country,
        t_pubs=pubs,
        t_patents=patents,
    )
