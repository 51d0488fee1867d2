"""Why a candidate ranks where it does, in Chinese and English, built from the model's own contributions.

LightGBM's ``pred_contrib`` gives one additive contribution per feature (SHAP values for trees). Features that say
the same thing to a recruiter are grouped (BM25 and embedding similarity of the profile are both "matches the
post's topic"), a group's weight is the sum of its features' contributions, and the groups that pushed the score
up the most become sentences filled with the candidate's actual values ("required skills 4/5 covered"). A group is
only stated when its values support the sentence (a YRD contribution for someone not in the YRD says nothing a
recruiter should read). The eligibility rules the candidate passed follow, as the PIPL "why this automated
decision" answer needs both parts.

Without a model (the non-personalised ranking) the same groups are weighted by each text feature's part of
``text_relevance`` (``features.matrix.text_terms``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np

from features.concepts import ancestors
from features.conflict import Tie
from features.dense import DEFAULT_ENCODER
from features.eligibility import PERMIT_CLASS_A, PERMIT_CLASS_B, RULE_TEXT, Rule
from features.indices import Indices
from features.matrix import index_encoder, text_terms
from features.records import AvailabilityMode, Need, NeedKind, Site, Talent
from features.schema import FeatureSchema
from features.table import DEFAULT_SPECIAL_RESEARCHER_MONTHS, NOT_FOREIGN, required_site
from features.taxonomy import disciplines

DEFAULT_TOP = 4
SITE_NAMES = {
    Site.jiaxing: ("Jiaxing", "嘉兴"),
    Site.shanghai_enclave: ("the Shanghai enclave", "上海飞地"),
    Site.abroad: ("abroad", "境外"),
}
MIN_WEIGHT = 1e-6
"""Contributions at or below this are noise (LightGBM leaves exact zeros for unused features)."""


@dataclass(frozen=True)
class Reason:
    """One human reason: a stable ``code`` (``skills``, ``yrd``, ``rule:consent`` …), English and Chinese text, and
    its ``weight`` (the summed contribution to the score; 0 for rules passed)."""

    code: str
    en: str
    zh: str
    weight: float

    def to_dict(self) -> dict:
        return asdict(self)


GROUPS: dict[str, tuple[str, ...]] = {
    "skills": ("skill_coverage",),
    "topic": ("bm25_profile", "bm25_share_profile", "dense_profile", "text_x_arrangement"),
    "works": ("bm25_works_max", "bm25_works_top3", "bm25_share_works_top3", "dense_works_max", "dense_works_top3"),
    "disciplines": ("concept_overlap", "discipline_match", "graph_common_neighbours", "graph_adamic_adar"),
    "network": ("graph_ppr", "graph_route_length"),
    "incubator": ("graph_incubator_route", "has_incubator"),
    "tier": ("tier_gap", "tier_rank"),
    "seniority": ("log_h_index", "log_publications", "log_patents", "honours", "works"),
    "availability": (
        "months_surplus",
        "months_available",
        "mode_full_time",
        "mode_short_term",
        "mode_remote",
        "mode_unstated",
    ),
    "arrangement": ("arrangement",),
    "site": ("site_listed", "in_shanghai"),
    "language": ("speaks_zh", "speaks_en", "language_gap_zh", "language_gap_en", "script_overlap"),
    "permit": ("permit_points",),
    "yrd": ("in_yrd", "abroad"),
    "salary": ("salary_ratio", "salary_ratio_est"),
    "freshness": ("days_since_update",),
}
"""Reason code → the schema features it sums. The post-kind indicators are left out: they describe the post, not
the candidate."""
_CODES = list(GROUPS)


@dataclass(frozen=True)
class _Ctx:
    need: Need
    talent: Talent | None
    x: dict[str, float]
    idx: Indices


Text = tuple[str, str] | None


def _skills(c: _Ctx) -> Text:
    n = len(c.need.required_skills)
    covered = round(c.x["skill_coverage"] * n)
    if not covered:
        return None
    return f"required skills {covered}/{n} covered", f"满足{covered}/{n}项技能要求"


def _topic(c: _Ctx) -> Text:
    return "profile matches the post's topic", "档案与岗位方向高度相关"


def _works(c: _Ctx) -> Text:
    return "papers, patents or projects close to the post", "论文、专利或项目与岗位相关"


def _shared_disciplines(need: Need, talent: Talent) -> list[str]:
    """The deepest NSFC codes shared by the need's and the talent's disciplines (a code or a common ancestor)."""
    mine = set()
    for code in talent.disciplines:
        mine |= {code, *ancestors(code)}
    shared = []
    for code in need.disciplines:
        common = next((a for a in (code, *ancestors(code)) if a in mine), None)
        if common is not None and common not in shared:
            shared.append(common)
    return shared


def _disciplines(c: _Ctx) -> Text:
    shared = _shared_disciplines(c.need, c.talent) if c.talent is not None else []
    if shared:
        tree = disciplines()
        codes = shared[:2]
        en = ", ".join(f"{tree[s].name_en or tree[s].name_zh} ({s})" for s in codes)
        zh = "、".join(f"{tree[s].name_zh}（{s}）" for s in codes)
        return f"shared disciplines: {en}", f"共同学科：{zh}"
    if c.x["concept_overlap"] > 0:
        return "shares key skills and research topics with the post", "与岗位有共同的技能和研究方向"
    return None


def _network(c: _Ctx) -> Text:
    hops = c.x["graph_route_length"]
    if 0 < hops <= 3:
        h = int(hops)
        return f"{h} steps from the enterprise in the talent network", f"在人才网络中与用人单位相距{h}步"
    if c.x["graph_ppr"] > 0:
        return "closely connected to the post in the talent network", "在人才网络中与岗位关联紧密"
    return None


def _incubator(c: _Ctx) -> Text:
    inc_id = c.talent.incubator_id if c.talent is not None else None
    if inc_id is None:
        return None
    rec = c.idx.incubators.get(inc_id)
    name_zh = getattr(rec, "name", None) or inc_id
    name_en = getattr(rec, "name_en", None) or name_zh
    if c.x["graph_incubator_route"] > 0:
        return f"linked through the {name_en}", f"经由{name_zh}"
    return f"linked to the {name_en}", f"关联{name_zh}"


def _tier_letter(rank: float) -> str | None:
    r = round(rank)
    return "ABCDE"[5 - r] if 1 <= r <= 5 else None


def _tier(c: _Ctx) -> Text:
    letter = _tier_letter(c.x["tier_rank"])
    if letter is None:
        return None
    m = c.need.min_tier
    if m is None:
        return f"tier {letter} talent", f"{letter}类人才"
    if c.x["tier_gap"] > 0:
        return f"tier {letter} talent, above the post's minimum {m.value}", f"{letter}类人才，高于岗位要求的{m.value}类"
    return f"tier {letter} talent, meets the post's minimum", f"{letter}类人才，符合岗位要求"


def _seniority(c: _Ctx) -> Text:
    h, pubs, pats = (round(math.expm1(c.x[k])) for k in ("log_h_index", "log_publications", "log_patents"))
    honours = round(c.x["honours"])
    en, zh = [], []
    for value, e, z in (
        (h, f"h-index {h}", f"h指数{h}"),
        (pubs, f"{pubs} publications", f"论文{pubs}篇"),
        (pats, f"{pats} patents", f"专利{pats}项"),
        (honours, f"{honours} honours", f"荣誉{honours}项"),
    ):
        if value > 0:
            en.append(e)
            zh.append(z)
    if not en:
        return None
    return "track record: " + ", ".join(en[:3]), "科研积累：" + "，".join(zh[:3])


def _availability(c: _Ctx) -> Text:
    if c.talent is None:
        return None
    a = c.talent.availability
    if a.mode is AvailabilityMode.full_time:
        return "available full time", "可全职工作"
    if a.mode is AvailabilityMode.remote or not a.months_per_year:
        return None
    asked = c.need.months_per_year or (
        DEFAULT_SPECIAL_RESEARCHER_MONTHS if c.need.kind is NeedKind.special_researcher else 0
    )
    m = a.months_per_year
    if asked:
        return f"available {m} months a year (post asks {asked})", f"每年可工作{m}个月（岗位要求{asked}个月）"
    return f"available {m} months a year", f"每年可工作{m}个月"


ARRANGEMENT_TEXT = {
    NeedKind.special_researcher: (
        "comes short term, as a special-researcher post asks",
        "可短期来嘉，符合特聘研究员岗位",
    ),
    NeedKind.full_time: ("relocates full time, as the post asks", "可全职来嘉，符合岗位要求"),
    NeedKind.enclave: ("works at the Shanghai enclave, as the post asks", "可在上海飞地工作，符合岗位要求"),
    NeedKind.incubation_project: ("came through a Haina incubator", "经由海纳孵化器而来"),
}


def _arrangement(c: _Ctx) -> Text:
    return ARRANGEMENT_TEXT[c.need.kind] if c.x["arrangement"] == 1 else None


def _site(c: _Ctx) -> Text:
    if c.x["site_listed"] == 1:
        site = required_site(c.need)
        en, zh = SITE_NAMES.get(site, (site.value, site.value))
        return f"accepts the post's work site ({en})", f"接受岗位工作地点（{zh}）"
    if c.x["in_shanghai"] == 1 and required_site(c.need) is Site.shanghai_enclave:
        return "lives in Shanghai, where the enclave is", "常住上海，飞地所在地"
    return None


def _language(c: _Ctx) -> Text:
    wanted = c.need.languages or ["zh"]
    if c.talent is None or not c.talent.languages or not set(wanted) <= set(c.talent.languages):
        return None
    names = {"zh": ("Chinese", "中文"), "en": ("English", "英语")}
    en = ", ".join(names.get(code, (code, code))[0] for code in wanted)
    zh = "、".join(names.get(code, (code, code))[1] for code in wanted)
    return f"speaks the post's languages ({en})", f"掌握岗位要求的语言（{zh}）"


def _permit(c: _Ctx) -> Text:
    if c.talent is None or c.talent.nationality is None or c.talent.nationality in NOT_FOREIGN:
        return None
    p = c.x["permit_points"]
    cls = "A" if p >= PERMIT_CLASS_A else "B" if p >= PERMIT_CLASS_B else None
    if cls is None:
        return None
    return (
        f"likely work-permit class {cls} (about {p:.0f} points)",
        f"预计可获{cls}类工作许可（约{p:.0f}分）",
    )


def _yrd(c: _Ctx) -> Text:
    if c.x["in_yrd"] != 1:
        return None
    return "based in the Yangtze River Delta", "常驻长三角"


def _salary(c: _Ctx) -> Text:
    ratio = c.x["salary_ratio"]
    budget = c.need.salary_budget
    if not math.isfinite(ratio) or ratio > 1 or not budget:
        return None
    s = ratio * budget
    return (
        f"salary expectation within budget ({s:.0f} of {budget:.0f} 10k CNY a year)",
        f"期望薪酬在预算内（{s:.0f}/{budget:.0f}万元/年）",
    )


def _freshness(c: _Ctx) -> Text:
    days = c.x["days_since_update"]
    if not math.isfinite(days) or days < 0:
        return None
    d = int(days)
    if d == 0:
        return "profile updated today", "档案今日更新"
    return f"profile updated {d} days ago", f"档案{d}天前更新"


RENDER: dict[str, Callable[[_Ctx], Text]] = {
    "skills": _skills,
    "topic": _topic,
    "works": _works,
    "disciplines": _disciplines,
    "network": _network,
    "incubator": _incubator,
    "tier": _tier,
    "seniority": _seniority,
    "availability": _availability,
    "arrangement": _arrangement,
    "site": _site,
    "language": _language,
    "permit": _permit,
    "yrd": _yrd,
    "salary": _salary,
    "freshness": _freshness,
}


@dataclass(frozen=True)
class _Layout:
    """What ``reasons`` needs of a schema, worked out once: feature names in column order and a (features + bias) ×
    groups 0/1 matrix that sums contributions by group."""

    names: tuple[str, ...]
    group_sum: np.ndarray


_LAYOUTS: dict[int, tuple[FeatureSchema, _Layout]] = {}


def _layout(schema: FeatureSchema) -> _Layout:
    """Cached by identity: hashing a schema hashes every feature, slower than the work it saves."""
    hit = _LAYOUTS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    names = tuple(schema.names)
    col = {name: i for i, name in enumerate(names)}
    group_sum = np.zeros((len(names) + 1, len(GROUPS)))
    for j, feats in enumerate(GROUPS.values()):
        group_sum[[col[f] for f in feats], j] = 1.0
    layout = _Layout(
        names=names,
        group_sum=group_sum,
    )
    _LAYOUTS[id(schema)] = (schema, layout)
    return layout


def blend_contributions(X: np.ndarray, schema: FeatureSchema, encoder: str = DEFAULT_ENCODER) -> np.ndarray:
    """Per-feature share of ``text_relevance`` (same floors and weights, those fitted for the indices' dense
    ``encoder``), zeros elsewhere, plus a 0 bias column: the contributions of the non-personalised ranking. One row
    of ``X`` gives one row of contributions, a matrix one per row."""
    lay = _layout(schema)
    X = np.asarray(X, dtype=np.float64)
    cols, parts = text_terms(np.atleast_2d(X), encoder)
    out = np.zeros((len(parts), len(lay.names) + 1))
    out[:, cols] = parts
    return out[0] if X.ndim == 1 else out


def applicable_rules(need: Need, talent: Talent | None, evaluated: Iterable[NeedKind] = ()) -> list[Rule]:
    """The rules that actually constrained this pairing (a tier rule when the post sets no minimum says nothing;
    the conflict rule only on the ``evaluated`` post kinds of an enterprise)."""
    foreign = talent is not None and talent.nationality is not None and talent.nationality not in NOT_FOREIGN
    keep = {
        Rule.consent: True,
        Rule.tier: need.min_tier is not None,
        Rule.availability: need.kind is not NeedKind.incubation_project,
        Rule.site: True,
        Rule.language: bool(need.languages),
        Rule.work_permit: foreign and need.kind is not NeedKind.special_researcher,
        Rule.conflict: need.enterprise_id is not None and need.kind in set(evaluated),
    }
    return [r for r in Rule if keep[r]]


def rule_reasons(rules: Iterable[Rule]) -> list[Reason]:
    return [Reason(f"rule:{r.value}", *RULE_TEXT[r], 0.0) for r in rules]


def internal_reason(tie: Tie) -> Reason:
    """The flag on a current employee of the need's own enterprise: not a new recruit (and where that is known
    from)."""
    source = tie.source if tie.relation_id else "their profile's employer"
    zh_source = tie.source if tie.relation_id else "本人档案中的工作单位"
    return Reason("flag:internal", f"internal: already employed by this enterprise (source: {source}), not a new "
                  "recruit", f"内部人员：已是该企业在职员工（来源：{zh_source}），非新引进人才", 0.0)  # fmt: skip


def reasons(
    need: Need,
    X_row: np.ndarray,
    contrib_row: np.ndarray | None,
    schema: FeatureSchema,
    idx: Indices,
    talent_id: str,
    *,
    top: int = DEFAULT_TOP,
) -> list[Reason]:
    """The ``top`` groups with the largest positive contribution, as bilingual sentences, then the rules passed.

    ``contrib_row`` is one row of ``Scorer.contributions`` (F + 1 values, the bias last) or ``None`` for the
    non-personalised ranking. The rules listed are those that apply to this need and talent (``applicable_rules``):
    only candidates that passed every rule are ranked.
    """
    lay = _layout(schema)
    n = len(lay.names)
    X_row = np.asarray(X_row, dtype=np.float64).ravel()
    if X_row.shape != (n,):
        raise ValueError(f"reasons: X_row has {X_row.size} values; expected {n} (schema {schema.version})")
    if contrib_row is None:
        contrib_row = blend_contributions(X_row, schema, index_encoder(idx))
    contrib = np.asarray(contrib_row, dtype=np.float64).ravel()
    if contrib.shape != (n + 1,):
        raise ValueError(
            f"reasons: contrib_row has {contrib.size} values; expected {n + 1} (one per feature plus the bias)"
        )
    weights = (contrib @ lay.group_sum).tolist()
    talent = idx.talents.get(talent_id)
    ctx = _Ctx(need, talent, dict(zip(lay.names, X_row.tolist(), strict=True)), idx)
    out: list[Reason] = []
    for j in sorted(range(len(weights)), key=lambda j: -weights[j]):
        if weights[j] <= MIN_WEIGHT or len(out) == top:
            break
        code = _CODES[j]
        text = RENDER[code](ctx)
        if text is not None:
            out.append(Reason(code, *text, round(weights[j], 6)))
    return out + rule_reasons(applicable_rules(need, talent, idx.ties.evaluated))
