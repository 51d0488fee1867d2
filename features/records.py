"""The records talentmatch reads and writes: pydantic v2 models, one per kind.

Real imports are sparse, so every field but the identity is optional with a documented default: a talent needs
only ``id`` plus ``name`` or ``summary``; a need only ``id`` and ``title``. Unknown fields are rejected (a typo in a
column name is an error, not silently dropped data). Money is in CNY ten-thousands per year (万元/年), the unit of
the city's policy text.
"""

from __future__ import annotations

import hashlib
import re
import sys
import weakref
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, ClassVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from features.taxonomy import Industry, disciplines

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Refuse a NUL byte or a lone surrogate (JSON's ``"\\u0000"``, ``"\\ud800"``): no database stores them as
    text, and they are never part of a real name or profile."""
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000); remove it")
    if _SURROGATE.search(value):
        raise ValueError("contains a lone UTF-16 surrogate (\\ud800–\\udfff), not valid Unicode text; fix the encoding")
    return value


RECORD_ID_PATTERN = r"^[^\s/\\\x00]+$"
"""No whitespace, slashes or NUL: ids appear in URLs."""
RecordId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=RECORD_ID_PATTERN),
    AfterValidator(clean_text),
]
"""Record ids: 1–128 characters (the id columns' length), no whitespace or slashes (they appear in URLs)."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200_000), AfterValidator(clean_text)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000), AfterValidator(clean_text)]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000), AfterValidator(clean_text)
]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
"""A count of works or an index: non-negative, and small enough for any JSON or integer column."""


def _in_range(value: date) -> date:
    """Years 1900–2200: far outside them a timestamp is a typo, and near year 1 or 9999 converting it to UTC
    overflows."""
    if not 1900 <= value.year <= 2200:
        raise ValueError(f"year {value.year} is out of range (1900–2200); check the date")
    return value


Timestamp = Annotated[datetime, AfterValidator(_in_range)]
Day = Annotated[date, AfterValidator(_in_range)]


def _code(letters: str, upper: bool, hint: str):
    """A code of ASCII letters, any case, spaces around allowed; the schema (OpenAPI) states the same pattern the
    check applies, the check gives the clearer message."""
    rx = re.compile(f"[A-Z]{letters}" if upper else f"[a-z]{letters}")

    def check(value: str) -> str:
        code = value.strip().upper() if upper else value.strip().lower()
        if not value.isascii() or not rx.fullmatch(code):  # ASCII first: "ﬀ".upper() is "FF"
            raise ValueError(f"{code!r} is not {hint}")
        return code

    schema = {"type": "string", "pattern": rf"^\s*[A-Za-z]{letters}\s*$", "description": hint}
    return AfterValidator(check), WithJsonSchema(schema)


CountryCode = Annotated[str, *_code("{2}", True, "an ISO 3166 alpha-2 country code such as CN, DE or US")]
LanguageCode = Annotated[str, *_code("{2,3}", False, "an ISO 639 language code such as zh, en or de")]


class Tier(StrEnum):
    """Talent tiers of the city's policy: A academicians … E senior professionals."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"

    @property
    def rank(self) -> int:
        """5 for A down to 1 for E (0 is reserved for no tier), so ``rank >= need.min_tier.rank`` reads right."""
        return 5 - "ABCDE".index(self.value)


class NeedKind(StrEnum):
    special_researcher = "special_researcher"
    enclave = "enclave"
    full_time = "full_time"
    incubation_project = "incubation_project"


class AvailabilityMode(StrEnum):
    full_time = "full_time"
    short_term = "short_term"
    remote = "remote"


class Site(StrEnum):
    jiaxing = "jiaxing"
    shanghai_enclave = "shanghai_enclave"
    abroad = "abroad"


class WorkKind(StrEnum):
    paper = "paper"
    patent = "patent"
    project = "project"


class Degree(StrEnum):
    bachelor = "bachelor"
    master = "master"
    phd = "phd"
    postdoc = "postdoc"
    other = "other"


class NeedStatus(StrEnum):
    open = "open"
    paused = "paused"
    filled = "filled"
    closed = "closed"


class FeedbackAction(StrEnum):
    impression = "impression"
    view = "view"
    shortlist = "shortlist"
    contact = "contact"
    interview = "interview"
    offer = "offer"
    hire = "hire"
    reject = "reject"


class Record(BaseModel):
    """Base of every record: strict about unknown fields, lenient about omitted ones."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    record_kind: ClassVar[str]
    id: RecordId


class Consent(BaseModel):
    """The talent's PIPL consents. Each is separate; only ``matching`` defaults to granted (profiles reach the
    office through its own intake, which asks for it); sharing and cross-border transfer must be given explicitly."""

    model_config = ConfigDict(extra="forbid")

    matching: bool = True
    sharing: bool = False
    cross_border: bool = False
    automated_decision_opt_out: bool = False
    updated_at: Timestamp | None = None


class Residence(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    country: CountryCode | None = None
    city: ShortText | None = None
    in_yrd: bool | None = None
    """Lives in the Yangtze River Delta (Shanghai, Jiangsu, Zhejiang, Anhui); ``None`` when unknown."""


class Education(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    degree: Degree = Degree.other
    institution: ShortText | None = None
    field: ShortText | None = None
    year: int | None = Field(default=None, ge=1930, le=2100)
    country: CountryCode | None = None


class Work(BaseModel):
    """A paper, patent or project: a researcher's profile is largely its works."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Title
    abstract: Text | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    kind: WorkKind = WorkKind.paper


class Availability(BaseModel):
    """How the talent can work: relocate full time, come short term for some months a year, or work remotely.

    ``mode`` None means not stated (half of real profiles): it is its own value, never assumed to be full time."""

    model_config = ConfigDict(extra="forbid")

    mode: AvailabilityMode | None = None
    months_per_year: int | None = Field(default=None, ge=1, le=12)

    @model_validator(mode="after")
    def _months_for_short_term(self) -> Availability:
        if self.mode is AvailabilityMode.full_time and self.months_per_year is None:
            self.months_per_year = 12
        return self


def _check_disciplines(codes: list[str]) -> list[str]:
    known = disciplines()
    bad = [c for c in codes if c not in known]
    if bad:
        raise ValueError(f"unknown NSFC discipline code(s) {', '.join(bad)}; use codes such as F0201 (see nsfc.jl)")
    return codes


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


class Talent(Record):
    record_kind: ClassVar[str] = "talent"

    name: ShortText | None = None
    name_zh: ShortText | None = None
    name_en: ShortText | None = None
    summary: Text | None = None
    skills: list[ShortText] = Field(default_factory=list)
    email: ShortText | None = None
    phone: ShortText | None = None
    nationality: CountryCode | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    """Year of birth, 1900–2100; one of the fields that tell two records of one person from namesakes."""
    residence: Residence = Field(default_factory=Residence)
    languages: list[LanguageCode] = Field(default_factory=list)
    education: list[Education] = Field(default_factory=list)
    employer: ShortText | None = None
    tier: Tier | None = None
    honours: list[ShortText] = Field(default_factory=list)
    disciplines: list[str] = Field(default_factory=list)
    works: list[Work] = Field(default_factory=list)
    publication_count: Count = 0
    patent_count: Count = 0
    h_index: Count = 0
    availability: Availability = Field(default_factory=Availability)
    sites: list[Site] = Field(default_factory=list)
    """Acceptable work sites; empty means not stated."""
    salary_expectation: float | None = Field(default=None, ge=0)
    incubator_id: RecordId | None = None
    consent: Consent = Field(default_factory=Consent)
    updated_at: Timestamp | None = None

    _v_disc = field_validator("disciplines")(_check_disciplines)
    _v_skills = field_validator("skills", "honours")(_dedupe)

    @model_validator(mode="after")
    def _needs_name_or_summary(self) -> Talent:
        if not (self.name or self.name_zh or self.name_en or self.summary):
            raise ValueError("a talent needs a name (name, name_zh or name_en) or a summary")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.name_zh or self.name_en or self.id


class Platform(Record):
    record_kind: ClassVar[str] = "platform"

    name: ShortText
    name_en: ShortText | None = None
    district: ShortText | None = None
    industries: list[Industry] = Field(default_factory=list)
    description: Text | None = None


class Incubator(Record):
    """An overseas "Haina" incubator. ``city_synthetic`` marks the demo world's invented locations."""

    record_kind: ClassVar[str] = "incubator"

    name: ShortText
    name_en: ShortText | None = None
    country: CountryCode | None = None
    city: ShortText | None = None
    city_zh: ShortText | None = None
    city_synthetic: bool = False
    focus_industries: list[Industry] = Field(default_factory=list)
    focus_disciplines: list[str] = Field(default_factory=list)

    _v_disc = field_validator("focus_disciplines")(_check_disciplines)


class Enterprise(Record):
    record_kind: ClassVar[str] = "enterprise"

    name: ShortText
    name_en: ShortText | None = None
    platform_id: RecordId | None = None
    industries: list[Industry] = Field(default_factory=list)
    description: Text | None = None
    contact_email: ShortText | None = None


class Need(Record):
    """A post an enterprise wants filled."""

    record_kind: ClassVar[str] = "need"

    title: Title
    description: Text | None = None
    enterprise_id: RecordId | None = None
    kind: NeedKind = NeedKind.full_time
    required_skills: list[ShortText] = Field(default_factory=list)
    disciplines: list[str] = Field(default_factory=list)
    industry: Industry | None = None
    min_tier: Tier | None = None
    site: Site = Site.jiaxing
    months_per_year: int | None = Field(default=None, ge=1, le=12)
    duration_years: float | None = Field(default=None, gt=0, le=10)
    salary_budget: float | None = Field(default=None, ge=0)
    languages: list[LanguageCode] = Field(default_factory=list)
    status: NeedStatus = NeedStatus.open
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None

    _v_disc = field_validator("disciplines")(_check_disciplines)
    _v_skills = field_validator("required_skills")(_dedupe)


class FeedbackEvent(Record):
    """One recruiter action on a ranked candidate. ``id`` may be omitted: it is then derived from the content, so
    re-importing the same event is idempotent."""

    record_kind: ClassVar[str] = "feedback"

    id: RecordId = ""  # type: ignore[assignment]  # filled by _derive_id
    need_id: RecordId
    talent_id: RecordId
    action: FeedbackAction
    position: Count | None = None
    actor: ShortText | None = None
    time: Timestamp | None = None
    model_version: ShortText | None = None
    ranking_id: ShortText | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("id"):
            key = "|".join(str(data.get(k, "")) for k in ("need_id", "talent_id", "action", "time", "actor"))
            data = {**data, "id": "fb-" + hashlib.sha1(key.encode()).hexdigest()[:16]}
        return data


class RelationKind(StrEnum):
    employee = "employee"
    former_employee = "former_employee"
    founder_or_shareholder = "founder_or_shareholder"
    family_of_staff = "family_of_staff"
    co_author = "co_author"


class Relation(Record):
    """A tie between a talent and an enterprise (or a named person: a co-author, a family member) that can make a
    match unfair (``features.conflict``). ``id`` may be omitted: it is then derived from the content, so re-importing
    the same declaration is idempotent. ``source`` says who declared it (the talent, an enterprise, an import)."""

    record_kind: ClassVar[str] = "relation"

    id: RecordId = ""  # type: ignore[assignment]  # filled by _derive_id
    talent_id: RecordId
    enterprise_id: RecordId | None = None
    person: ShortText | None = Field(default=None, validate_default=True)
    """A named person (co-author, relative) instead of an enterprise; tied to an enterprise when they are its staff."""
    kind: RelationKind
    source: ShortText
    start: Day | None = None
    end: Day | None = Field(default=None, validate_default=True)
    """When the relation ended (a former employee's last day); none: it still holds."""

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("id"):
            key = "|".join(str(data.get(k, "")) for k in ("talent_id", "enterprise_id", "person", "kind", "source"))
            data = {**data, "id": "rel-" + hashlib.sha1(key.encode()).hexdigest()[:16]}
        return data

    @field_validator("person")
    @classmethod
    def _one_party(cls, person: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("enterprise_id") is None) == (not person):
            got = "both" if person else "neither"
            raise ValueError(f"give exactly one of enterprise_id (an enterprise) or person (a named person), got {got}")
        return person or None

    @field_validator("end")
    @classmethod
    def _end_of_former(cls, end: date | None, info: ValidationInfo) -> date | None:
        if end is None and info.data.get("kind") is RelationKind.former_employee:
            raise ValueError("a former_employee relation needs its end date (e.g. 2024-06-30)")
        if end is not None and (start := info.data.get("start")) is not None and end < start:
            raise ValueError(f"end {end} is before start {start}")
        return end


RECORD_TYPES: dict[str, type[Record]] = {
    "platform": Platform,
    "incubator": Incubator,
    "enterprise": Enterprise,
    "need": Need,
    "talent": Talent,
    "feedback": FeedbackEvent,
    "relation": Relation,
}
"""Record kinds in dependency order: each may reference only kinds listed before it."""

WORLD_FILES: dict[str, str] = {
    "platform": "platforms.jsonl",
    "incubator": "incubators.jsonl",
    "enterprise": "enterprises.jsonl",
    "need": "needs.jsonl",
    "talent": "talents.jsonl",
    "feedback": "feedback.jsonl",
    "relation": "relations.jsonl",
}
"""The file each kind lives in inside a world directory (``.csv`` with the same stem also accepted)."""

REFERENCES: dict[str, dict[str, str]] = {
    "enterprise": {"platform_id": "platform"},
    "need": {"enterprise_id": "enterprise"},
    "talent": {"incubator_id": "incubator"},
    "feedback": {"need_id": "need", "talent_id": "talent"},
    "relation": {"talent_id": "talent", "enterprise_id": "enterprise"},
}
"""Foreign keys by kind: field → referenced kind. Imports check every one of them."""


def dump(record: Record) -> dict:
    """The canonical JSON form of a record: no ``None`` and no empty defaults, so exports stay sparse and
    round-trip exactly."""
    return record.model_dump(mode="json", exclude_defaults=True) | {"id": record.id}


_VOCABULARY_FIELDS = frozenset({
    "skills", "required_skills", "languages", "disciplines", "honours", "nationality", "country", "city",
    "institution", "field", "employer", "incubator_id", "enterprise_id",
})  # fmt: skip
"""Fields whose values repeat across records (vocabulary and organisations, nothing that names a person)."""


_SHARED_MODELS = frozenset({Residence, Availability})
_SHARED: weakref.WeakValueDictionary[tuple, BaseModel] = weakref.WeakValueDictionary()
"""The one instance of each distinct residence and availability held (weak: gone with the last record using it)."""


def share_internals(record: BaseModel) -> BaseModel:
    """Let a record held for a long time (by the indices) share what many records hold alike, in place: repeated
    vocabulary strings (skills, languages, places, institutions) become one interned copy, and pydantic's set of
    explicitly set field names, one per model and nested model (~3 KB of a demo talent's ~7 KB, and nearly unique
    per record, as stored records omit their defaults), becomes one shared set per model class naming every field.
    Values, equality, dumps and copies are unchanged; only ``model_fields_set`` (which no code here reads, and no
    dump of ours uses: ``exclude_unset`` is never passed) then names every field. Equal residences and
    availabilities (a hundred or so distinct ones among 10k talents) become one shared instance, as
    ``model_copy`` already shares nested models: records are never changed in place. Returns the record."""
    stack = [record]
    while stack:
        model = stack.pop()
        nested, texts, lists, every = _plan(type(model))
        object.__setattr__(model, "__pydantic_fields_set__", every)
        values = model.__dict__
        for name in nested:
            value = values[name]
            if isinstance(value, list):
                stack.extend(value)
            elif type(value) in _SHARED_MODELS:
                key = (type(value), *value.__dict__.values())
                if (shared := _SHARED.get(key)) is None:
                    _SHARED[key] = shared = value
                    stack.append(value)
                values[name] = shared
            elif value is not None:
                stack.append(value)
        for name in texts:
            if (value := values[name]) is not None:
                values[name] = sys.intern(value)
        for name in lists:
            if value := values[name]:
                value[:] = map(sys.intern, value)
    return record


@cache
def _plan(model: type[BaseModel]) -> tuple[list[str], list[str], list[str], set[str]]:
    """Fields of ``model`` holding models (or lists of them), vocabulary strings, lists of vocabulary strings, and
    the shared set of all its field names."""
    nested, texts, lists = [], [], []
    for name, info in model.model_fields.items():
        inner = get_args(info.annotation) or (info.annotation,)
        if any(isinstance(t, type) and issubclass(t, BaseModel) for t in inner):
            nested.append(name)
        elif name in _VOCABULARY_FIELDS:
            (lists if get_origin(info.annotation) is list else texts).append(name)
    return nested, texts, lists, set(model.model_fields)


def talent_text(t: Talent) -> str:
    """All free text of a talent in one string (summary, skills, works), each run of white space one space: the
    input of text indices. (``str.split`` splits where ``re``'s ``\\s+`` matches, on every code point, ~4× faster.)"""
    parts = [t.summary or "", " ".join(t.skills)]
    parts += [f"{w.title} {w.abstract or ''}" for w in t.works]
    return " ".join(" ".join(parts).split())


def need_text(n: Need) -> str:
    """All free text of a need in one string (title, description, required skills), white space as in
    ``talent_text``."""
    return " ".join(f"{n.title} {n.description or ''} {' '.join(n.required_skills)}".split())
