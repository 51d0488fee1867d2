"""The bounds of what the API accepts, taken from the database columns the values end up in (``service.db``), so
a value that passes validation always fits its column on PostgreSQL, and the OpenAPI document states each bound:
bad input is a 422 naming the field, never a database error (a 500).

Strings also refuse NUL bytes and lone surrogates (PostgreSQL stores neither; ``features.records.clean_text``)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Path, Query
from pydantic import AfterValidator, AnyHttpUrl, StringConstraints, UrlConstraints

from features.records import RECORD_ID_PATTERN, clean_text
from service import db


def column_length(row: type[db.Base], column: str) -> int:
    """The declared length of a ``String(n)`` column."""
    return row.__table__.c[column].type.length  # type: ignore[attr-defined]


def column_max(row: type[db.Base], column: str) -> int:
    """The largest value an integer column holds on PostgreSQL (``INTEGER`` 2^31−1, ``BIGINT`` 2^63−1)."""
    big = isinstance(row.__table__.c[column].type, sa.BigInteger)  # type: ignore[attr-defined]
    return 2**63 - 1 if big else 2**31 - 1


ID_MAX = column_length(db.NeedRow, "id")
"""Record ids (every record table's ``id``, and the columns referencing one)."""
RANKING_ID_MAX = column_length(db.RankingRow, "id")
URL_MAX = column_length(db.SubscriptionRow, "url")
EMAIL_MAX = column_length(db.SubscriptionRow, "email")
LABEL_MAX = column_length(db.ApiKeyRow, "label")
OBJECT_KIND_MAX = column_length(db.AuditRow, "object_kind")
SUBSCRIPTION_ID_MAX = column_max(db.SubscriptionRow, "id")
ALERT_ID_MAX = column_max(db.AlertRow, "id")
KEY_ID_MAX = column_max(db.ApiKeyRow, "id")
SAVED_SEARCH_ID_MAX = column_max(db.SavedSearchRow, "id")
SAVED_SEARCH_NAME_MAX = column_length(db.SavedSearchRow, "name")
OFFSET_MAX = 10_000_000
"""Largest ``offset`` of a list page: deeper pages are not browsed but filtered; the bound keeps SQL ``OFFSET`` in
range on every database."""
QUERY_MAX = 2_000
"""Longest free-text query."""


def text(**constraints: Any) -> Any:
    """A string type with pydantic's ``StringConstraints`` that also refuses NUL and lone surrogates (the check runs
    last: a constraint after a validator would not be enforced)."""
    return Annotated[str, StringConstraints(**constraints), AfterValidator(clean_text)]


def _fits_url(url: AnyHttpUrl) -> AnyHttpUrl:
    """The normalised form (punycode host, escaped path) is what is stored: it must fit the column too."""
    if len(str(url)) > URL_MAX:
        raise ValueError(f"the URL is longer than {URL_MAX} characters once normalised; use a shorter one")
    clean_text(str(url))
    return url


WebhookUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=URL_MAX), AfterValidator(_fits_url)]
"""A webhook URL that fits its column (where it may point is ``service.alerts.webhook``'s business)."""
IdPath = Annotated[
    str, Path(min_length=1, max_length=ID_MAX, pattern=RECORD_ID_PATTERN, description="A record id / 记录 id")
]
"""A record id in the path: 1–128 characters, no whitespace, slashes or NUL."""
RankingIdPath = Annotated[str, Path(min_length=1, max_length=RANKING_ID_MAX, pattern=RECORD_ID_PATTERN)]
SubscriptionIdPath = Annotated[int, Path(ge=1, le=SUBSCRIPTION_ID_MAX, description="The subscription's id")]
AlertIdPath = Annotated[int, Path(ge=1, le=ALERT_ID_MAX, description="The alert's id")]
KeyIdPath = Annotated[int, Path(ge=1, le=KEY_ID_MAX, description="The key's id")]
SavedSearchIdPath = Annotated[int, Path(ge=1, le=SAVED_SEARCH_ID_MAX, description="The saved search's id")]
IdQuery = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=RECORD_ID_PATTERN)]
"""A record id in a query filter."""
OffsetQuery = Annotated[int, Query(ge=0, le=OFFSET_MAX, description=f"Items to skip (at most {OFFSET_MAX:,}).")]
