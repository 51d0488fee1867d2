"""The named, versioned schema of the (need, talent) feature matrix.

Models are trained against a schema version; the service refuses a model whose version differs, so bump
``VERSION`` whenever a feature is added, removed, reordered or changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "3"


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    group: str
    en: str
    zh: str


FEATURES: tuple[Feature, ...] = (
    # text relevance
    Feature("bm25_profile", "text", "BM25 of the need against the whole profile", "岗位与完整档案的BM25相关度"),
    Feature("bm25_works_max", "text", "BM25 against the best-matching work", "与最相关成果的BM25相关度"),
    Feature("bm25_works_top3", "text", "mean BM25 of the three best works", "最相关三项成果的平均BM25"),
    Feature(
        "bm25_share_profile",
        "text",
        "profile BM25 as a share of the most the need's words can score",
        "档案BM25占岗位用词最高可得分的比例",
    ),
    Feature(
        "bm25_share_works_top3",
        "text",
        "mean BM25 share of the three best works",
        "最相关三项成果BM25得分比例的平均",
    ),
    Feature("dense_profile", "text", "multilingual embedding similarity to the profile", "与档案的多语种语义相似度"),
    Feature("dense_works_max", "text", "embedding similarity to the best work", "与最相关成果的语义相似度"),
    Feature(
        "dense_works_top3",
        "text",
        "mean embedding similarity of the three best works",
        "最相关三项成果的平均语义相似度",
    ),
    Feature("concept_overlap", "text", "shared taxonomy concepts (either language)", "共同的学科与技能概念"),
    Feature("discipline_match", "text", "overlap of NSFC discipline codes", "国家自然科学基金学科代码重合度"),
    Feature("skill_coverage", "text", "share of required skills covered", "满足的技能要求比例"),
    # graph
    Feature("graph_ppr", "graph", "personalized PageRank from the need", "从岗位出发的个性化PageRank"),
    Feature("graph_common_neighbours", "graph", "skills and disciplines shared in the graph", "图中共同的技能与学科"),
    Feature(
        "graph_adamic_adar", "graph", "Adamic–Adar through skills and disciplines", "经技能与学科的Adamic–Adar指数"
    ),
    Feature("graph_route_length", "graph", "hops to the need's enterprise or platform", "到用人单位或平台的跳数"),
    Feature(
        "graph_incubator_route", "graph", "linked through an incubator in the need's field", "经由同领域海纳孵化器关联"
    ),
    # eligibility margins
    Feature("tier_gap", "eligibility", "talent tier above the post's minimum", "人才层次高于岗位最低要求的级数"),
    Feature("months_surplus", "eligibility", "months a year available beyond the post's", "每年可工作月数超出岗位要求"),
    Feature("permit_points", "eligibility", "estimated work-permit points", "预计工作许可积分"),
    # soft preferences
    Feature(
        "in_yrd", "preference", "based in the Yangtze River Delta (1, 0, -1 unknown)", "常驻长三角（1是，0否，-1未知）"
    ),
    Feature("salary_ratio", "preference", "salary expectation over the post's budget", "期望薪酬与岗位预算之比"),
    Feature("abroad", "preference", "resides outside the mainland (1, 0, -1 unknown)", "常住境外（1是，0否，-1未知）"),
    Feature("speaks_zh", "preference", "speaks Chinese (1, 0, -1 not stated)", "掌握中文（1是，0否，-1未填写）"),
    Feature("speaks_en", "preference", "speaks English (1, 0, -1 not stated)", "掌握英文（1是，0否，-1未填写）"),
    Feature(
        "salary_ratio_est",
        "preference",
        "salary over budget, unstated salaries estimated from peers of the same tier",
        "期望薪酬与预算之比（未填写时按同层次人才估计）",
    ),
    # fit to the post (soft priors from the records; unknown attributes sit between fit and misfit)
    Feature(
        "availability_fit",
        "fit",
        "how well availability, site and incubator link suit the post kind",
        "可工作时间、地点与孵化器关联对岗位类型的契合度",
    ),
    Feature("language_fit", "fit", "no stated gap in the post's languages (Chinese assumed)", "语言要求无明显差距"),
    Feature("salary_fit", "fit", "estimated salary within the post's budget", "预计薪酬在岗位预算之内"),
    Feature("fit_prior", "fit", "product of every fit factor", "各项契合度之积"),
    Feature("text_fit", "fit", "expertise match (concepts and BM25) times fit", "专业匹配度（概念与BM25）乘以契合度"),
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

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "features": [{"name": f.name, "group": f.group, "en": f.en, "zh": f.zh} for f in self.features],
        }


SCHEMA = FeatureSchema(VERSION, FEATURES)
