"""The ranking filters of the API (tier, nationality, residence, site, language, incubator) as a GET form: several
values in one text box (``CN DE``) or repeated parameters, checked with the API's own field types so bad input is a
422 naming the field, never a silent "no filter"."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, ValidationError

from features.records import CountryCode, LanguageCode, RecordId, Site, Tier
from service.console.session import ConsoleError

Values = Annotated[list[str] | None, Query(max_length=200)]
"""A filter as the form sends it: repeated, each maybe several values separated by spaces or commas."""


class CandidateFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: list[Tier] | None = None
    nationality: list[CountryCode] | None = None
    residence: list[CountryCode] | None = None
    site: Site | None = None
    language: list[LanguageCode] | None = None
    incubator: list[RecordId] | None = None

    def given(self) -> dict[str, Any]:
        """The filters as ``service.api.rankings.need_candidates`` takes them."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def text(self, name: str) -> str:
        """A filter's values for its text box."""
        value = getattr(self, name)
        return " ".join(str(v) for v in value) if isinstance(value, list) else (value or "")


def split(values: list[str] | None) -> list[str] | None:
    out = [v for raw in values or () for v in re.split(r"[\s,，]+", raw) if v]
    return out or None


def parse(*, tier: list[str] | None, nationality: list[str] | None, residence: list[str] | None, site: str | None,
          language: list[str] | None, incubator: list[str] | None) -> CandidateFilters:  # fmt: skip
    """The filters, validated; a bad value is a 422 page naming the query parameter."""
    raw = {"tier": split(tier), "nationality": split(nationality), "residence": split(residence),
           "site": site or None, "language": split(language), "incubator": split(incubator)}  # fmt: skip
    if raw["nationality"]:
        raw["nationality"] = [v.upper() for v in raw["nationality"]]
    if raw["residence"]:
        raw["residence"] = [v.upper() for v in raw["residence"]]
    try:
        return CandidateFilters.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0])
        raise ConsoleError(422, f"query parameter {name}: {err['msg']}", field=name) from None
