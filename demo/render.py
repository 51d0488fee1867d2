"""Rendering: the observable records written from the latent state, in Chinese, English or both, with noise.

Why: the records are all the product ever sees. They show the latent truth the way real profiles and posts do —
omitted skills, synonyms, the other language, vague summaries, thin profiles — so ranking well means reading them
well. Rendering draws only from ``random.Random`` instances seeded by the caller, never from the truth's stream.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import orjson

from demo.latent import KINDS, NOW, TIERS, Latent
from demo.vocabulary import (
    ABSTRACTS,
    BRAND_CHARS,
    CN_CITIES,
    CN_UNIVERSITIES,
    COUNTRIES,
    ENTERPRISE_TOWNS,
    FOREIGN,
    FOREIGN_NAMES,
    GENERIC_SKILLS,
    GIVEN_NAMES,
    HONOURS,
    INCUBATORS,
    INDUSTRY_WORDS,
    NEED_TITLES,
    PLATFORMS,
    POSITIONS,
    SURNAMES,
    VAGUE_NEED_TITLES,
    VAGUE_SUMMARIES,
    WORK_TITLES,
    Vocabulary,
)
from features.records import (
    Degree,
    Enterprise,
    Incubator,
    Need,
    NeedKind,
    NeedStatus,
    Site,
    Talent,
    WorkKind,
    dump,
)
from features.taxonomy import INDUSTRY_NAMES, Industry


def render_incubators(v: Vocabulary) -> list[Incubator]:
    """The eight incubators as records; their focus disciplines are the NSFC codes of their industries' areas."""
    return [
        Incubator(
            id=x.id,
            name=x.name,
            name_en=x.name_en,
            country=x.country,
            city=x.city,
            city_zh=x.city_zh,
            city_synthetic=True,
            focus_industries=list(x.focus_industries),
            focus_disciplines=sorted(
                {c for ind in x.focus_industries for a in v.areas_of_industry[ind] for c in v.areas[a].nsfc}
            ),
        )
        for x in INCUBATORS
    ]


def _brands(rnd: random.Random, n: int) -> list[tuple[str, str]]:
    """``n`` distinct invented company brands (town + two characters), zh and en."""
    combos = [(t, a, b) for t in ENTERPRISE_TOWNS for a in BRAND_CHARS for b in BRAND_CHARS if a != b]
    rnd.shuffle(combos)
    if n > len(combos):
        raise ValueError(f"world: at most {len(combos)} enterprises can be named; ask for fewer needs")
    return [(t[0] + a[0] + b[0], f"{t[1]} {a[1]}{b[1].lower()}") for t, a, b in combos[:n]]


class Renderer:
    """Per-record rendering helpers bound to one ``random.Random`` (fast scalar draws, deterministic per seed)."""

    def __init__(self, v: Vocabulary, rnd: random.Random) -> None:
        self.v, self.rnd = v, rnd

    def skill(self, sid: int, lang: str) -> str:
        """The skill as someone writing in ``lang`` might name it: usually canonically, sometimes in the other
        language or by a synonym."""
        r = self.rnd.random()
        zh, en, syn = self.v.skill_zh[sid], self.v.skill_en[sid], self.v.skill_syn[sid]
        if r < 0.66:
            return zh if lang == "zh" else en
        if r < 0.84 or not syn:
            return en if lang == "zh" else zh
        return self.rnd.choice(syn)

    def area(self, a: int, lang: str) -> str:
        spec = self.v.areas[a]
        return spec.zh if lang == "zh" else spec.en

    def join(self, items: Sequence[str], lang: str) -> str:
        if lang == "zh":
            return "、".join(items)
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def render_enterprises(rnd: random.Random, n: int) -> tuple[list[Enterprise], list[list[int]]]:
    """``n`` enterprises on the platforms, each in one or two of its platform's industries; also returns each
    enterprise's industry positions (its needs are drawn in those)."""
    ind_pos = {ind: i for i, ind in enumerate(Industry)}
    weights = [3, 4, 3, 3, 3, 2, 3]
    out, inds = [], []
    width = max(4, len(str(n)))
    for i, (zh, en) in enumerate(_brands(rnd, n)):
        plat = PLATFORMS[rnd.choices(range(len(PLATFORMS)), weights)[0]]
        industries = rnd.sample(plat.industries, min(len(plat.industries), rnd.choice((1, 1, 2))))
        word_zh, word_en = INDUSTRY_WORDS[industries[0]]
        names = "、".join(INDUSTRY_NAMES[x][0] for x in industries)
        out.append(
            Enterprise(
                id=f"E{i + 1:0{width}d}",
                name=f"{zh}{word_zh}科技有限公司",
                name_en=f"{en} {word_en} Co., Ltd." if rnd.random() < 0.7 else None,
                platform_id=plat.id if rnd.random() < 0.95 else None,
                industries=industries,
                description=f"位于{plat.name}，主营{names}相关产品研发与产业化。" if rnd.random() < 0.8 else None,
                contact_email=f"hr{i + 1}@{en.split()[1].lower()}.example.cn" if rnd.random() < 0.6 else None,
            )
        )
        inds.append([ind_pos[x] for x in industries])
    return out, inds


def render_need(rd: Renderer, lat: Latent, i: int, width: int, ent_ids: list[str], created: datetime) -> Need:
    """Need ``i`` as its enterprise would post it: a title and description in one language (sometimes vague),
    some of its true skills as required, and its stated terms (tier, months, budget, languages)."""
    rnd, v = rd.rnd, rd.v
    lang = "en" if rnd.random() < 0.22 else "zh"
    kind = KINDS[lat.n_kind[i]]
    row = lat.n_skills.getrow(i)
    sids = row.indices[np.argsort(-row.data, kind="stable")].tolist()
    months = int(lat.n_months[i])
    area = int(lat.n_area[i])
    if rnd.random() < 0.1:
        title = rnd.choice(VAGUE_NEED_TITLES[lang])
    else:
        title = rnd.choice(NEED_TITLES[kind][lang]).format(
            area=rd.area(area, lang), skill=rd.skill(sids[0], lang), months=months
        )
    dlang = lang if rnd.random() < 0.85 else ("en" if lang == "zh" else "zh")
    shown = [rd.skill(s, dlang) for s in sids if rnd.random() < 0.75] or [rd.skill(sids[0], dlang)]
    tier = TIERS[lat.n_min_tier[i]]
    if rnd.random() < 0.15:
        description = "待遇优厚，详情面议。" if dlang == "zh" else "Competitive package; details on request."
    elif dlang == "zh":
        description = f"负责{rd.area(area, 'zh')}相关技术研发与团队建设。要求熟悉{rd.join(shown, 'zh')}。"
        description += f"要求{tier.value}类及以上人才。" if tier else ""
        description += f"每年在嘉兴工作不少于{months}个月。" if months else ""
        description += "工作地点：上海虹桥飞地创新中心。" if kind is NeedKind.enclave else ""
    else:
        description = f"Lead R&D in {rd.area(area, 'en')}. Experience with {rd.join(shown, 'en')} required."
        description += f" Tier {tier.value} or above." if tier else ""
        description += f" At least {months} months a year in Jiaxing." if months else ""
        description += " Based at the Shanghai Hongqiao enclave." if kind is NeedKind.enclave else ""
    required = [rd.skill(s, lang) for s in sids if rnd.random() < 0.7] if rnd.random() < 0.9 else []
    langs = [code for code, need in (("zh", lat.n_lang_zh[i]), ("en", lat.n_lang_en[i])) if need]
    budget = float(lat.n_budget[i])
    status = rnd.choices(list(NeedStatus), (80, 8, 7, 5))[0]
    return Need(
        id=f"N{i + 1:0{width}d}",
        title=title,
        description=description,
        enterprise_id=ent_ids[lat.n_enterprise[i]],
        kind=kind,
        required_skills=required,
        disciplines=[v.leaf_codes[c] for c in lat.n_leaves.getrow(i).indices] if rnd.random() < 0.5 else [],
        industry=v.industries[lat.n_industry[i]] if rnd.random() < 0.85 else None,
        min_tier=tier,
        site=Site.shanghai_enclave if kind is NeedKind.enclave else Site.jiaxing,
        months_per_year=months or None,
        duration_years=float(rnd.choice((1, 2, 3)))
        if kind in (NeedKind.special_researcher, NeedKind.enclave)
        else None,
        salary_budget=None if np.isnan(budget) else budget,
        languages=langs if rnd.random() < 0.6 else [],
        status=status,
        created_at=created,
        updated_at=created + timedelta(days=rnd.randint(0, 30)),
    )


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def render_talents(v: Vocabulary, lat: Latent, start: int, stop: int, seed: int, inc_ids: list[str]) -> list[bytes]:
    """JSON lines of talents ``start..stop``: each a validated ``Talent`` rendered from latent state with noise."""
    rnd = random.Random(seed)
    rd = Renderer(v, rnd)
    width = max(6, len(str(len(lat.t_area))))
    sk = lat.t_skills[start:stop]
    lv = lat.t_leaves[start:stop]
    cols = {
        k: getattr(lat, k)[start:stop].tolist()
        for k in (
            "t_area",
            "t_area2",
            "t_tier",
            "t_quality",
            "t_origin",
            "t_country",
            "t_abroad",
            "t_city",
            "t_yrd",
            "t_relocate",
            "t_short_months",
            "t_shanghai_ok",
            "t_lang_zh",
            "t_lang_en",
            "t_salary",
            "t_incubator",
            "t_consent",
            "t_study_country",
            "t_pubs",
            "t_patents",
        )
    }
    sk_ind, sk_ptr, sk_w = sk.indices.tolist(), sk.indptr.tolist(), sk.data.tolist()
    lv_ind, lv_ptr = lv.indices.tolist(), lv.indptr.tolist()
    out = []
    for j in range(stop - start):
        c = {k: col[j] for k, col in cols.items()}
        skills = [
            s
            for _, s in sorted(
                zip(sk_w[sk_ptr[j] : sk_ptr[j + 1]], sk_ind[sk_ptr[j] : sk_ptr[j + 1]], strict=True), reverse=True
            )
        ]
        leaves = [v.leaf_codes[x] for x in lv_ind[lv_ptr[j] : lv_ptr[j + 1]]]
        t = _render_talent(rd, start + j, width, c, skills, leaves, inc_ids)
        out.append(orjson.dumps(dump(t)))
    return out


def _render_talent(
    rd: Renderer, idx: int, width: int, c: dict, skills: list[int], leaves: list[str], inc_ids: list[str]
) -> Talent:
    """Talent ``idx`` from its latent columns ``c``: names, residence, education, employer, honours, skills,
    works and availability as a profile would show them, thin for about one in seven."""
    rnd, v = rd.rnd, rd.v
    origin, tier, area = c["t_origin"], c["t_tier"], c["t_area"]
    country = FOREIGN[c["t_country"]] if c["t_country"] >= 0 else "CN"
    lang = "zh" if rnd.random() < (0.85, 0.55, 0.25, 0.05)[origin] else "en"
    sparse = rnd.random() < 0.15
    # Names: Chinese for Chinese nationals and foreign nationals of Chinese origin, native otherwise.
    name_zh = name_en = None
    if origin <= 2:
        sur = rnd.choice(SURNAMES)
        given = [rnd.choice(GIVEN_NAMES) for _ in range(rnd.choice((1, 2, 2)))]
        name_zh = sur[0] + "".join(g[0] for g in given)
        given_en = given[0][1] + "".join(g[1].lower() for g in given[1:])
        latin = f"{given_en} {sur[1]}"
        if origin >= 1 or rnd.random() < 0.3:
            name_en = latin
        name = name_zh if origin <= 1 else name_en
        if origin == 2 and rnd.random() < 0.4:
            name_zh = None
    else:
        firsts, lasts = FOREIGN_NAMES[COUNTRIES[country].names]
        name = name_en = latin = f"{rnd.choice(firsts)} {rnd.choice(lasts)}"
    # Residence.
    if c["t_abroad"]:
        res_country = country if country != "CN" else FOREIGN[c["t_study_country"]]
        cities = COUNTRIES[res_country].cities
        residence = dict(
            country=res_country, city=cities[c["t_city"] % len(cities)], in_yrd=False if rnd.random() < 0.5 else None
        )
    else:
        city = CN_CITIES[c["t_city"]]
        residence = dict(
            country="CN", city=city.zh if lang == "zh" else city.en, in_yrd=city.in_yrd if rnd.random() < 0.75 else None
        )
    # Education, employer and position.
    study = FOREIGN[c["t_study_country"]] if origin == 1 else (country if origin >= 2 else "CN")
    education: list[dict] = []
    year = rnd.randint(1988, 2021) - 4 * tier
    field = rd.area(area, lang)
    if not sparse:
        if study == "CN":
            uni = rnd.choice(CN_UNIVERSITIES)
            inst = uni[0] if lang == "zh" else uni[1]
        else:
            inst = rnd.choice(COUNTRIES[study].universities)
        degree = Degree.phd if rnd.random() < 0.55 + 0.1 * tier else rnd.choice((Degree.master, Degree.postdoc))
        education.append(
            dict(degree=degree, institution=inst, field=field if rnd.random() < 0.7 else None, year=year, country=study)
        )
        if rnd.random() < 0.5:
            uni = rnd.choice(CN_UNIVERSITIES) if origin <= 1 else None
            education.append(
                dict(
                    degree=Degree.bachelor,
                    institution=(uni[0] if lang == "zh" else uni[1])
                    if uni
                    else rnd.choice(COUNTRIES[country].universities),
                    year=year - 6,
                    country="CN" if uni else country,
                )
            )
    pos_zh, pos_en = rnd.choice(POSITIONS)
    if c["t_abroad"]:
        employer = rnd.choice(COUNTRIES[residence["country"]].universities)
    elif rnd.random() < 0.45:
        uni = rnd.choice(CN_UNIVERSITIES)
        employer = uni[0] if lang == "zh" else uni[1]
    else:
        b1, b2 = rnd.sample(BRAND_CHARS, 2)
        word = INDUSTRY_WORDS[v.industries[v.area_primary_ind[area]]] if v.areas[area].industries else ("科技", "Tech")
        employer = f"{b1[0]}{b2[0]}{word[0]}有限公司" if lang == "zh" else f"{b1[1]}{b2[1].lower()} {word[1]} Ltd."
    honours = []
    if tier and rnd.random() < 0.9:
        h = rnd.choice(HONOURS[tier])
        honours.append(h[0] if lang == "zh" else h[1])
    # Skills as written: some missing, some by synonym or in the other language, some generic filler.
    keep = 0.4 if sparse else 0.75
    shown = [rd.skill(s, lang) for s in skills if rnd.random() < keep]
    if rnd.random() < 0.25:
        g = rnd.choice(GENERIC_SKILLS)
        shown.append(g[0] if lang == "zh" else g[1])
    summary = None
    r = rnd.random()
    if not sparse and r < 0.75:
        s_names = [rd.skill(s, lang) for s in skills[:3]]
        if lang == "zh":
            summary = f"{employer}{pos_zh}，主要研究方向为{rd.area(area, 'zh')}，擅长{rd.join(s_names, 'zh')}。"
            if origin == 1:
                summary += f"曾在{COUNTRIES[study].zh}学习工作多年。"
        else:
            summary = (
                f"{pos_en} at {employer}, working on {rd.area(area, 'en')}; expertise in {rd.join(s_names, 'en')}."
            )
    elif not sparse and r < 0.87:
        summary = rnd.choice(VAGUE_SUMMARIES[lang])
    # Works: they mention latent skills (even ones the skills list omits), mostly in English for papers.
    works = []
    n_works = 0 if sparse else min(5, int(rnd.expovariate(1.0 / (1.0 + 0.6 * tier))))
    for _ in range(n_works):
        kind = rnd.choices((WorkKind.paper, WorkKind.patent, WorkKind.project), (60, 25, 15))[0]
        wl = "en" if kind is WorkKind.paper and rnd.random() < 0.7 else lang
        s1, s2 = (rd.skill(rnd.choice(skills), wl) for _ in range(2))
        args = dict(s1=s1, s2=s2, S1=_cap(s1), area=rd.area(area, wl))
        title = rnd.choice(WORK_TITLES[kind][wl]).format(**args)
        abstract = ABSTRACTS[wl].format(**args) if rnd.random() < 0.4 else None
        works.append(dict(title=title, abstract=abstract, kind=kind, year=min(2025, year + rnd.randint(1, 15))))
    pubs = 0 if sparse else c["t_pubs"]
    h_index = max(0, round(pubs**0.5 * (1.1 + 0.15 * c["t_quality"]))) if pubs else 0
    # Availability and sites from latent willingness.
    months = c["t_short_months"]
    if c["t_relocate"]:
        availability = {}
    elif months:
        availability = dict(mode="short_term", months_per_year=months if rnd.random() < 0.92 else None)
    else:
        availability = dict(mode="remote")
    sites = []
    if rnd.random() < 0.65:
        if c["t_relocate"] or months:
            sites.append(Site.jiaxing)
        if c["t_shanghai_ok"]:
            sites.append(Site.shanghai_enclave)
        if c["t_abroad"]:
            sites.append(Site.abroad)
    langs = ["zh"] * c["t_lang_zh"] + ["en"] * c["t_lang_en"]
    if country != "CN" and origin == 3:
        langs.append(COUNTRIES[country].language)
    incubator = c["t_incubator"]
    matching = c["t_consent"]
    foreign_side = origin >= 2 or c["t_abroad"]
    updated = NOW - timedelta(days=rnd.randint(0, 1000), minutes=rnd.randint(0, 1439))
    local = latin.split()[0].lower().encode("ascii", "ignore").decode()
    return Talent(
        id=f"T{idx + 1:0{width}d}",
        name=name,
        name_zh=name_zh,
        name_en=name_en,
        summary=summary,
        skills=shown,
        email=f"{local}.{idx + 1}@example.com" if rnd.random() < 0.5 else None,
        phone=f"+86 13{rnd.randint(0, 999_999_999):09d}" if not foreign_side and rnd.random() < 0.3 else None,
        nationality=country if rnd.random() < 0.9 else None,
        residence=residence,
        languages=langs if rnd.random() < 0.85 else [],
        education=education,
        employer=employer if rnd.random() < 0.85 else None,
        tier=TIERS[tier] if rnd.random() < 0.92 else None,
        honours=honours,
        disciplines=rnd.sample(leaves, rnd.randint(1, len(leaves))) if not sparse and rnd.random() < 0.6 else [],
        works=works,
        publication_count=pubs,
        patent_count=0 if sparse else c["t_patents"],
        h_index=h_index,
        availability=availability,
        sites=sites,
        salary_expectation=round(c["t_salary"] / 5) * 5.0 if rnd.random() < 0.5 else None,
        incubator_id=inc_ids[incubator] if incubator >= 0 and rnd.random() < 0.9 else None,
        consent=dict(
            matching=matching,
            sharing=matching and rnd.random() < 0.6,
            cross_border=matching and rnd.random() < (0.35 if foreign_side else 0.1),
            automated_decision_opt_out=rnd.random() < 0.03,
            updated_at=updated,
        ),
        updated_at=updated,
    )


# --------------------------------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------------------------------

_vocab: Vocabulary | None = None
