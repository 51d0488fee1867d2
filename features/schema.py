"""The named, versioned schema of the (need, talent) feature matrix.

Models are trained against a schema version; the service refuses a model whose version differs, so bump
``VERSION`` whenever a feature is added, removed, reordered or changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "4"


@dataclass(frozen=True, slots=True)
class Feature:
    """A column: its name, group and bilingual description, and ``monotone``: +1 where more of it can never make a
    candidate worse for the post (by what the column means, not by what a demo world rewards), -1 the reverse, 0
    no constraint. ``LambdaRankModel(monotone=True)`` passes these to LightGBM as monotone constraints."""

    name: str
    group: str
    en: str
    zh: str
    monotone: int = 0

    def __post_init__(self) -> None:
        if self.monotone not in (-1, 0, 1):
            raise ValueError(f"feature {self.name}: monotone must be -1, 0 or 1, got {self.monotone!r}")


UP = 1
"""More of it never makes a candidate worse (``Feature.monotone``): only evidence of expertise and closeness."""

FEATURES: tuple[Feature, ...] = (
    # text relevance
    Feature("bm25_profile", "text", "BM25 of the need against the whole profile", "岗位与完整档案的BM25相关度", UP),
    Feature("bm25_works_max", "text", "BM25 against the best-matching work", "与最相关成果的BM25相关度", UP),
    Feature("bm25_works_top3", "text", "mean BM25 of the three best works", "最相关三项成果的平均BM25", UP),
    Feature(
        "bm25_share_profile",
        "text",
        "profile BM25 as a share of the most the need's words can score",
        "档案BM25占岗位用词最高可得分的比例",
        UP,
    ),
    Feature(
        "bm25_share_works_top3",
        "text",
        "mean BM25 share of the three best works",
        "最相关三项成果BM25得分比例的平均",
        UP,
    ),
    Feature(
        "dense_profile", "text", "multilingual embedding similarity to the profile", "与档案的多语种语义相似度", UP
    ),
    Feature("dense_works_max", "text", "embedding similarity to the best work", "与最相关成果的语义相似度", UP),
    Feature(
        "dense_works_top3",
        "text",
        "mean embedding similarity of the three best works",
        "最相关三项成果的平均语义相似度",
        UP,
    ),
    Feature("concept_overlap", "text", "shared taxonomy concepts (either language)", "共同的学科与技能概念", UP),
    Feature("discipline_match", "text", "overlap of NSFC discipline codes", "国家自然科学基金学科代码重合度", UP),
    Feature("skill_coverage", "text", "share of required skills covered", "满足的技能要求比例", UP),
    Feature(
        "script_overlap",
        "text",
        "share of the post's text in a script the profile also writes (where words can match at all)",
        "岗位文本中与档案文字相同部分的比例（字面匹配的可能范围）",
    ),
    # graph
    Feature("graph_ppr", "graph", "personalized PageRank from the need", "从岗位出发的个性化PageRank", UP),
    Feature(
        "graph_common_neighbours", "graph", "skills and disciplines shared in the graph", "图中共同的技能与学科", UP
    ),
    Feature(
        "graph_adamic_adar",
        "graph",
        "Adamic–Adar through skills and disciplines",
        "经技能与学科的Adamic–Adar指数",
        UP,
    ),
    Feature("graph_route_length", "graph", "hops to the need's enterprise or platform", "到用人单位或平台的跳数"),
    Feature(
        "graph_incubator_route",
        "graph",
        "linked through an incubator in the need's field",
        "经由同领域海纳孵化器关联",
        UP,
    ),
    # eligibility margins
    Feature("tier_gap", "eligibility", "talent tier above the post's minimum", "人才层次高于岗位最低要求的级数"),
    Feature(
        "months_surplus",
        "eligibility",
        "months a year available beyond the post's (NaN not stated)",
        "每年可工作月数超出岗位要求（未填写为空）",
    ),
    Feature("permit_points", "eligibility", "estimated work-permit points", "预计工作许可积分"),
    # soft preferences
    Feature(
        "in_yrd", "preference", "based in the Yangtze River Delta (1, 0, -1 unknown)", "常驻长三角（1是，0否，-1未知）"
    ),
    Feature(
        "salary_ratio",
        "preference",
        "stated salary expectation over the post's budget (NaN unknown)",
        "期望薪酬与岗位预算之比（未知为空）",
    ),
    Feature("abroad", "preference", "resides outside the mainland (1, 0, -1 unknown)", "常住境外（1是，0否，-1未知）"),
    Feature("speaks_zh", "preference", "speaks Chinese (1, 0, -1 not stated)", "掌握中文（1是，0否，-1未填写）"),
    Feature("speaks_en", "preference", "speaks English (1, 0, -1 not stated)", "掌握英文（1是，0否，-1未填写）"),
    Feature(
        "salary_ratio_est",
        "preference",
        "salary over budget, an unstated salary taken as the median stated one of the same tier",
        "期望薪酬与预算之比（未填写时取同层次人才的中位数）",
    ),
    # fit to the post: raw observables; how they combine per post kind is learned from feedback
    Feature("mode_full_time", "fit", "states full-time availability", "填写可全职工作"),
    Feature("mode_short_term", "fit", "states short-term availability", "填写可短期工作"),
    Feature("mode_remote", "fit", "states remote work only", "填写仅远程工作"),
    Feature("mode_unstated", "fit", "availability not stated", "未填写可工作方式"),
    Feature("months_available", "fit", "months a year available (NaN not stated)", "每年可工作月数（未填写为空）"),
    Feature(
        "site_listed",
        "fit",
        "lists the post's work site (1, 0 lists others, -1 none stated)",
        "可接受的工作地点包括岗位所在地（1是，0否，-1未填写）",
    ),
    Feature("in_shanghai", "fit", "lives in Shanghai (1, 0, -1 city not stated)", "常住上海（1是，0否，-1未填写城市）"),
    Feature(
        "language_gap_zh",
        "fit",
        "post works in Chinese, stated languages lack it (1, 0 no gap, -1 none stated)",
        "岗位需中文而所填语言不含中文（1是，0无差距，-1未填写）",
    ),
    Feature(
        "language_gap_en",
        "fit",
        "post needs English, stated languages lack it (1, 0 no gap, -1 none stated)",
        "岗位需英文而所填语言不含英文（1是，0无差距，-1未填写）",
    ),
    Feature(
        "arrangement",
        "fit",
        "states the arrangement the post kind is: short term, relocation, the Shanghai enclave, an incubator "
        "(1, 0 otherwise, -1 not stated)",
        "所填情况即岗位类型所需：短期、全职迁入、上海飞地、孵化器（1是，0否，-1未填写）",
    ),
    Feature(
        "text_x_arrangement",
        "fit",
        "shared concepts when the talent states the post's arrangement (0 otherwise)",
        "所填情况符合岗位类型时的共同概念（否则为0）",
        UP,
    ),
    # seniority
    Feature("tier_rank", "seniority", "talent tier (A=5 … E=1, none=0)", "人才层次（A=5…E=1，无=0）"),
    Feature("log_h_index", "seniority", "log(1 + h-index)", "log(1+h指数)"),
    Feature("log_publications", "seniority", "log(1 + publications)", "log(1+论文数)"),
    Feature("log_patents", "seniority", "log(1 + patents)", "log(1+专利数)"),
    Feature("honours", "seniority", "number of honours", "荣誉数量"),
    Feature("works", "seniority", "number of works listed", "列出的成果数量"),
    Feature("has_incubator", "seniority", "linked to a Haina incubator", "关联海纳孵化器"),
    # freshness
    Feature("days_since_update", "freshness", "days since the profile was updated", "档案距上次更新的天数"),
    # post kind
    Feature("kind_special_researcher", "post", "post is a special-researcher post", "岗位为特聘研究员"),
    Feature("kind_enclave", "post", "post is enclave recruitment", "岗位为飞地招才"),
    Feature("kind_full_time", "post", "post is full time", "岗位为全职"),
    Feature("kind_incubation_project", "post", "post is an incubation project", "岗位为孵化项目"),
)


@dataclass(frozen=True)
class FeatureSchema:
    """Names (the matrix's column order), bilingual descriptions and the version models are pinned to."""

    version: str
    features: tuple[Feature, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def monotone(self) -> list[int]:
        """``Feature.monotone`` in column order (LightGBM's ``monotone_constraints``)."""
        return [f.monotone for f in self.features]

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "features": [
                {"name": f.name, "group": f.group, "en": f.en, "zh": f.zh, "monotone": f.monotone}
                for f in self.features
            ],
        }


SCHEMA = FeatureSchema(VERSION, FEATURES)
