"""API schemas apart from the records themselves: pages, errors, keys, cards, import results, audit entries, plus
the bilingual (Chinese / English) request examples shown in the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from features.records import Availability, RecordId, Tier
from service.api.limits import LABEL_MAX, text
from service.keys import Role

T = TypeVar("T")

MAX_LIMIT = 200
"""Largest page a list route returns."""

UtcDatetime = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]
"""A stored time as the OpenAPI ``date-time`` it is documented as: SQLite hands timestamps back without their zone
(they are stored in UTC)."""


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code: unauthorized, forbidden, not_found, conflict, body_too_large, "
                                  "invalid, invalid_records, unavailable, internal.")  # fmt: skip
    message: str = Field(description="What went wrong and how to fix it.")
    field: str | None = Field(default=None, description="The offending field (dotted path), when one is at fault.")
    errors: list[str] | None = Field(
        default=None, description="Every problem, one per line (`field: message`; imports: `line: field: message`)."
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error": {"code": "invalid", "message": "body tier: Input should be 'A', 'B', 'C', 'D' or 'E'",
                           "field": "tier", "errors": ["tier: Input should be 'A', 'B', 'C', 'D' or 'E'"]}},
                {"error": {"code": "not_found", "message": "no need 'n-404'; check the id", "field": "id"}},
            ]
        }
    )  # fmt: skip


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` in id order, ``total`` matching items over all pages."""

    items: list[T]
    total: int = Field(description="Items matching the filters, over all pages.")
    limit: int
    offset: int


class ImportResult(BaseModel):
    """What a bulk import wrote (it writes everything or nothing)."""

    kind: str
    records: int = Field(description="Records in the body.")
    inserted: int
    updated: int
    unchanged: int = Field(description="Records identical to the stored ones (nothing written for them).")


class PeopleLinked(BaseModel):
    """How an import's new talents were linked into the existing people (``service.people.link_new``)."""

    linked: bool = Field(description="False when there is no saved linkage model yet (never linked in full): `reason`.")
    new_records: int = Field(description="Talents placed in a person (they were in none).")
    joined: int = Field(description="Of them, talents that joined an existing person.")
    new_persons: int = Field(description="Persons of several new talents only.")
    review_pairs: int = Field(description="Pairs added to the review queue.")
    existing_records: int
    compared: int = Field(description="Pairs scored, each with a new talent.")
    load_seconds: float
    score_seconds: float
    seconds: float
    reason: str | None = None


class TalentImportResult(ImportResult):
    people: PeopleLinked | None = Field(
        default=None, description="The linking of the new talents; null when none was written or with `link=false`."
    )


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"role": "enterprise", "enterprise_id": "e1", "label": "嘉光新能源 HR 部"},
                {"role": "recruiter", "label": "Talent office, Ms Zhang"},
            ]
        },
    )

    role: Role
    enterprise_id: RecordId | None = Field(default=None, description="Required for (and only for) enterprise keys.")
    label: text(max_length=LABEL_MAX) | None = Field(default=None, description="Whose key this is, for the audit log.")


class KeyInfo(BaseModel):
    id: int
    role: Role
    enterprise_id: str | None = None
    label: str | None = None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None


class KeyCreated(KeyInfo):
    key: str = Field(description="The secret: shown only in this response, only its hash is stored. "
                                 "Send it as `Authorization: Bearer <key>`.")  # fmt: skip


class AuditEntry(BaseModel):
    id: int = Field(
        description="The stored row's id. A served ranking page is one row (`rank` of its `ranking`) "
        "and reads as one entry per talent it showed (`rank` of `talent`): those share it"
    )
    at: UtcDatetime
    key_id: int | None
    role: str
    action: str = Field(description="read, list, create, replace, import, rank, …")
    object_kind: str = Field(description="talent, need, ranking, … / 对象类型")
    object_id: str | None
    detail: dict[str, Any] | None = None


MASKED_NAME = "姓名已隐藏 / name withheld"


class TalentCard(BaseModel):
    """What an enterprise may see of a candidate: skills and fit always; name and contact only when the talent
    consented to sharing (``masked`` is then false)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "t1", "masked": False, "name": "李伟", "name_en": "Li Wei", "email": "li.wei@example.org",
                 "tier": "B", "skills": ["perovskite", "钙钛矿"], "residence_country": "CN", "in_yrd": True,
                 "availability": {"mode": "short_term", "months_per_year": 4}},
                {"id": "t3", "masked": True, "name": MASKED_NAME, "tier": "D", "skills": ["thin films"],
                 "residence_country": "DE", "in_yrd": False, "availability": {"mode": "full_time",
                                                                             "months_per_year": 12}},
            ]
        }
    )  # fmt: skip

    id: str
    masked: bool = Field(description="True when name and contact are withheld (no sharing consent).")
    name: str = Field(description=f"Display name, or {MASKED_NAME!r} when masked.")
    name_en: str | None = None
    email: str | None = None
    phone: str | None = None
    tier: Tier | None = None
    skills: list[str] = Field(default_factory=list)
    disciplines: list[str] = Field(default_factory=list)
    residence_country: str | None = None
    in_yrd: bool | None = Field(default=None, description="Lives in the Yangtze River Delta; null when unknown.")
    availability: Availability


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="`ready`, or `not ready` with the reasons.")
    talents: int = 0
    needs: int = 0
    reasons: list[str] = Field(default_factory=list)
    model: str | None = Field(default=None, description="The ranking model version serving; null: non-personalised.")
    model_note: str | None = Field(
        default=None,
        description="Why no (or an older) model serves. No model does not make the service unready: the "
        "non-personalised ranking serves.",
    )
    pid: int = Field(default=0, description="The process that answered (one of `talentmatch serve --workers N`).")
    sync_lag_changes: int | None = Field(
        default=None,
        description="Changes written to the store (by any process) after the last one this process's poller "
        "applied (its own writes are applied at once, and counted here until the next poll; null: sync off, "
        "`TALENTMATCH_SYNC_SECONDS=0`).",
    )
    sync_lag_seconds: float | None = Field(
        default=None, description="Seconds since this process last caught up with the store's change journal."
    )
    snapshot: str | None = Field(
        default=None,
        description="The index snapshot this process started from (then caught up from the change journal); null: "
        "its indices were built from the store.",
    )


# --- request examples (OpenAPI), in Chinese and English -------------------------------------------------------------


def _examples(zh: dict[str, Any], en: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"zh": {"summary": "中文示例", "value": zh}, "en": {"summary": "English example", "value": en}}


RECORD_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "talent": _examples(
        {"id": "t-1001", "name": "李伟", "tier": "B", "nationality": "CN", "skills": ["钙钛矿", "薄膜太阳能电池"],
         "summary": "钙钛矿光伏材料研究，十年研发经验", "residence": {"country": "CN", "city": "上海", "in_yrd": True},
         "availability": {"mode": "short_term", "months_per_year": 4}, "consent": {"sharing": True}},
        {"id": "t-1002", "name": "Anna Schmidt", "tier": "D", "nationality": "DE", "languages": ["de", "en"],
         "summary": "RISC-V processor architect, 12 years of SoC design", "skills": ["RISC-V", "SoC design"],
         "residence": {"country": "DE", "city": "Munich"}, "sites": ["shanghai_enclave"]},
    ),
    "need": _examples(
        {"id": "n-2001", "title": "钙钛矿电池研发负责人", "enterprise_id": "e1", "kind": "special_researcher",
         "months_per_year": 3, "min_tier": "C", "required_skills": ["钙钛矿", "薄膜"]},
        {"id": "n-2002", "title": "IC design lead", "description": "Lead a RISC-V SoC team in the Hongqiao enclave",
         "enterprise_id": "e2", "kind": "enclave", "site": "shanghai_enclave", "languages": ["en"]},
    ),
    "enterprise": _examples(
        {"id": "e-301", "name": "嘉光新能源", "platform_id": "p-xiu", "industries": ["new_energy"]},
        {"id": "e-302", "name": "Acme Chips", "name_en": "Acme Chips Ltd.", "description": "Fabless IC design"},
    ),
    "platform": _examples(
        {"id": "p-401", "name": "嘉兴科技城", "district": "南湖区", "industries": ["digital_economy"]},
        {"id": "p-402", "name": "秀洲国家高新区", "name_en": "Xiuzhou National High-tech Zone"},
    ),
    "incubator": _examples(
        {"id": "inc-501", "name": "海纳孵化器（德国）", "country": "DE", "city_zh": "合成堡", "city_synthetic": True},
        {"id": "inc-502", "name": "Haina Incubator UK", "name_en": "Haina Incubator UK", "country": "GB"},
    ),
    "relation": _examples(
        {"talent_id": "t-1001", "enterprise_id": "e-301", "kind": "former_employee", "end": "2024-06-30",
         "source": "人才本人申报"},
        {"talent_id": "t-1002", "person": "Wang Fang", "kind": "co_author", "source": "office import 2026-11"},
    ),
}  # fmt: skip
"""``openapi_examples`` for each record kind's create / replace body."""
