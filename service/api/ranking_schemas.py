"""API schemas of the ranking routes: ranked candidates, free-text search, reciprocal needs, feedback, decision
receipts and models, with bilingual (Chinese / English) examples for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from features.records import CountryCode, LanguageCode, Need, NeedKind, RecordId, Site, Tier
from matcher.pipeline import CANDIDATES
from service.api.limits import QUERY_MAX, RANKING_ID_MAX, text
from service.api.schemas import TalentCard, UtcDatetime

REMOVED_DOC = (
    "Retrieved talents the hard rules removed, by the first rule each failed (consent, tier, …); `same_person`: "
    "records of a person a better-ranked record of theirs already shows."
)


class ReasonOut(BaseModel):
    code: str = Field(description="`skills`, `topic`, `tier`, … or `rule:<name>` for a rule passed.")
    en: str
    zh: str
    weight: float = Field(description="Contribution to the score (0 for rules).")


class CandidateOut(BaseModel):
    position: int = Field(description="0-based rank in the whole ranking (offset included); send it with feedback.")
    talent_id: str
    score: float
    reasons: list[ReasonOut]
    human_review: bool = Field(
        description="The talent refused purely automated decisions: a person must review before acting."
    )
    person_id: str | None = Field(
        default=None,
        description="The person (`GET /people/{id}`) when the office linked this record with others: the ranking "
        "shows a person once, by their best-ranked record (the others count under `removed.same_person`). "
        "Null for a record that stands alone, and always for enterprises.",
    )
    card: TalentCard


class RankingOut(BaseModel):
    """One page of a ranking, and the id of its decision receipt (`GET /rankings/{ranking_id}`)."""

    model_config = ConfigDict(protected_namespaces=())

    ranking_id: str
    need_id: str | None = Field(description="The ranked need; null for a free-text search.")
    model_version: str = Field(description="The model version, or `text-relevance` for the non-personalised ranking.")
    personalized: bool = Field(description="Whether the learned model ranked (false: rules and text relevance only).")
    note: str | None = Field(default=None, description="Why the ranking is not personalised when it was asked to be.")
    schema_version: str
    k: int
    offset: int
    ranked: int = Field(description="Candidates ranked in all (eligible, after filters); pages run up to it.")
    removed: dict[str, int] = Field(description=REMOVED_DOC)
    filtered: int = Field(description="Eligible candidates the filters dropped.")
    candidates: list[CandidateOut]


class SearchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "钙钛矿 薄膜太阳能电池 研发", "kind": "special_researcher", "k": 10},
                {"query": "RISC-V SoC design lead", "kind": "enclave", "tier": ["B", "C"], "language": ["en"]},
            ]
        },
    )

    query: text(strip_whitespace=True, min_length=1, max_length=QUERY_MAX) = Field(
        description="Free text in Chinese or English / 中文或英文关键词"
    )
    kind: NeedKind = Field(
        default=NeedKind.special_researcher,
        description="The post kind whose hard rules apply (availability, work permit); the default is the least "
        "restrictive: a short stay, no permit rule.",
    )
    k: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=CANDIDATES)
    tier: list[Tier] | None = None
    nationality: list[CountryCode] | None = None
    residence: list[CountryCode] | None = None
    site: Site | None = Field(default=None, description="The work site; the site rule applies to it.")
    language: list[LanguageCode] | None = None
    incubator: list[RecordId] | None = None


class NeedMatch(BaseModel):
    need_id: str
    score: float = Field(description="Reciprocal-rank fusion of text and vector search; higher fits better.")
    need: Need


class NeedMatches(BaseModel):
    talent_id: str
    needs: list[NeedMatch]


FeedbackAction = Literal["shortlist", "contact", "interview", "offer", "hire", "reject"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"need_id": "n-2001", "talent_id": "t-1001", "action": "shortlist", "ranking_id": "9f2c…"},
                {"need_id": "n-2002", "talent_id": "t-1002", "action": "reject", "ranking_id": "51ab…", "position": 3},
            ]
        },
    )

    need_id: RecordId
    talent_id: RecordId
    action: FeedbackAction = Field(
        description="shortlist 入围, contact 联系, interview 面试, offer 录用意向, hire 录用, reject 拒绝"
    )
    ranking_id: text(strip_whitespace=True, min_length=1, max_length=RANKING_ID_MAX) = Field(
        description="The `ranking_id` of the page the talent was shown on."
    )
    position: int | None = Field(
        default=None,
        ge=0,
        le=CANDIDATES,
        description="Where it was shown; taken from the receipt when left out, checked when given.",
    )


class ReceiptCandidate(BaseModel):
    position: int
    talent_id: str | None = Field(description="Null once the talent was erased.")
    score: float | None = None
    erased: bool = False
    erased_at: UtcDatetime | None = None
    reasons: list[ReasonOut] | None = None
    human_review: bool | None = None
    features: dict[str, float | None] | None = Field(
        default=None, description="The feature row (named) the score came from; not shown to enterprise keys."
    )
    contributions: dict[str, float | None] | None = Field(
        default=None, description="Each feature's contribution to the score, plus `bias`; not shown to enterprises."
    )
    team: str | None = Field(
        default=None,
        description="In an interleaved ranking, the model that drafted the candidate: `champion` (`model_version`) or "
        "`challenger` (`challenger_version`); null otherwise. Office roles only.",
    )
    person_id: str | None = Field(
        default=None,
        description="The person (`GET /people/{id}`) the record belongs to when the office has linked it with other "
        "records, as the people stand now (feedback on any record of a person teaches about the person); null "
        "otherwise, once erased, and for enterprises.",
    )


class ReceiptOut(BaseModel):
    """What was decided and why: inputs, model and schema versions, rules, and each candidate's features."""

    model_config = ConfigDict(protected_namespaces=())

    ranking_id: str
    route: str = Field(description="`candidates` or `search`.")
    need_id: str | None
    created_at: UtcDatetime
    key_id: int | None
    model_version: str | None
    personalized: bool
    schema_version: str
    params: dict[str, Any] = Field(description="k, offset, filters, whether personalisation was asked, the query.")
    summary: dict[str, Any] = Field(description=f"`removed`: {REMOVED_DOC} `filtered`, `pool`, `ranked`, "
                                                "`computed_at`, `feature_names`.")  # fmt: skip
    candidates: list[ReceiptCandidate]
    challenger_version: str | None = Field(
        default=None,
        description="An interleaved ranking's second model (see Comparing models online; scores and reasons are "
        "`model_version`'s); null otherwise.",
    )


class OnlineComparisonOut(BaseModel):
    """One pair of versions compared online by team-draft interleaving (``talentmatch models compare``)."""

    champion: str = Field(description="The champion's version when the rankings were served.")
    challenger: str
    rankings: int = Field(
        description="Interleaved rankings: one key's list of one need (its pages and repeats counted together)."
    )
    credited: int = Field(description="Of them, rankings with credited feedback (shortlist, contact and later).")
    challenger_wins: int
    challenger_losses: int
    ties: int
    p_value: float = Field(description="Two-sided sign test of wins against losses (ties dropped).")


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    version: str
    aliases: list[str]
    run_id: str | None = None
    created: str | None = None
    schema_version: str | None = None
    encoder: str | None = Field(
        default=None, description="The dense encoder it was trained with (null: registered before models recorded it)."
    )
    metrics: dict[str, float] = Field(default_factory=dict)
    decision: str | None = Field(default=None, description="The gate's decision when it was registered.")
    serving: bool = Field(description="This version ranks the requests now.")


class ModelsOut(BaseModel):
    serving: str | None = Field(description="The version serving, or null (non-personalised ranking).")
    champion: str | None = Field(description="The registry's champion.")
    note: str | None = None
    versions: list[ModelVersionOut]
    challenger: str | None = Field(
        default=None, description="The challenger loaded beside the champion for online interleaving, or null."
    )
    challenger_note: str | None = Field(default=None, description="Why the registry's challenger is not loaded.")


class ReloadOut(BaseModel):
    serving: str | None = Field(description="The version serving after the reload.")
    previous: str | None = Field(description="The version serving before it.")
    champion: str | None
    changed: bool
    note: str | None = Field(default=None, description="Why the champion is not serving, when it is not.")


Evaluation = dict[str, dict[str, float]]
"""Model (`lambdarank`, the baselines `random`, `bm25`, `dense`, `concept`, `blend`, and `feedback.*` against the
held-out feedback) → metric (`ndcg@10`, `map`, `recall@300`, …) → value."""


class VersionReport(ModelVersionOut):
    serving: bool = Field(default=False, description="This version ranks the requests now.")
    evaluation: Evaluation = Field(description="What its training run logged on the held-out needs.")
    by_kind: dict[str, Evaluation] = Field(description="The same per post kind (e.g. `ndcg@10` of `lambdarank`).")


class RunReport(BaseModel):
    run_id: str
    started: str | None = Field(description="ISO 8601, UTC.")
    ended: str | None = None
    status: str = Field(description="FINISHED, FAILED, RUNNING, …")
    params: dict[str, str]
    evaluation: Evaluation
    by_kind: dict[str, Evaluation]
    version: str | None = Field(description="The version it registered; null when it registered none.")


class ModelReportOut(BaseModel):
    serving: str | None = Field(description="The version serving, or null (non-personalised ranking).")
    versions: list[VersionReport] = Field(description="Every registered version, newest first.")
    runs: list[RunReport] = Field(description="The latest training runs, newest first.")


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": "3"}]})

    version: str = Field(pattern=r"^[1-9][0-9]{0,8}$", description="The registered version to make champion.")
    require_online_win: bool = Field(
        default=False,
        description="Promote only a challenger that won significantly online against the current champion "
        "(`GET /models/compare`); 409 saying what it lacks otherwise.",
    )
    alpha: float = Field(default=0.05, gt=0, le=1, description="Significance level of the sign test.")
    min_rankings: int = Field(default=20, ge=1, le=1_000_000, description="Credited rankings needed at least.")


class AliasOut(BaseModel):
    champion: str = Field(description="The registry's champion now.")
    previous: str | None = Field(description="The champion before.")
    serving: str | None = Field(description="The version this process serves after reloading.")
    note: str | None = Field(default=None, description="Why the champion does not serve here, when it does not.")
