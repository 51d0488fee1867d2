"""The talent database schema (SQLAlchemy 2) and engine factory; Alembic migrations live in ``service/migrations``.

One table per record kind. Each row keeps the canonical ``dump(record)`` in ``data`` (the source of truth, so
exports round-trip exactly), a ``digest`` of it (so re-imports can tell unchanged rows without reading them), and
copies of the fields that queries filter on, indexed, with real foreign keys where a record references another.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from uuid6 import uuid7

from features.records import Record
from service.sqlite_writers import serialize_writers

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0017"
"""The newest migration in ``migrations/versions`` (a test checks it against Alembic), known without importing
Alembic so every command starts quickly; bump it with each new migration."""

JSONData = sa.JSON().with_variant(JSONB(), "postgresql")
UTCDateTime = sa.DateTime(timezone=True)
AuditId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit on PostgreSQL (one row per profile read adds up); SQLite autoincrements only an ``INTEGER`` key."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class RecordRow:
    """Columns every record table has. ``QUERY_COLUMNS`` are copied from the record's fields of the same name."""

    QUERY_COLUMNS: ClassVar[tuple[str, ...]] = ()

    id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONData)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    """When this row last changed (unchanged re-imports keep it): the change feed for alerts."""


class PlatformRow(RecordRow, Base):
    __tablename__ = "platforms"


class IncubatorRow(RecordRow, Base):
    __tablename__ = "incubators"
    QUERY_COLUMNS = ("country",)

    country: Mapped[str | None] = mapped_column(sa.String(2), index=True)


class EnterpriseRow(RecordRow, Base):
    __tablename__ = "enterprises"
    QUERY_COLUMNS = ("platform_id",)

    platform_id: Mapped[str | None] = mapped_column(sa.ForeignKey("platforms.id"), index=True)


class NeedRow(RecordRow, Base):
    __tablename__ = "needs"
    QUERY_COLUMNS = ("enterprise_id", "kind", "status", "min_tier", "updated_at")

    enterprise_id: Mapped[str | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    min_tier: Mapped[str | None] = mapped_column(sa.String(1))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    match_pending: Mapped[bool] = mapped_column(sa.Boolean, index=True, server_default=sa.false())
    """Written (new or changed) and not yet matched for alerts: the change feed a crash cannot lose."""


class TalentRow(RecordRow, Base):
    __tablename__ = "talents"
    QUERY_COLUMNS = ("tier", "nationality", "incubator_id", "updated_at")

    tier: Mapped[str | None] = mapped_column(sa.String(1), index=True)
    nationality: Mapped[str | None] = mapped_column(sa.String(2), index=True)
    incubator_id: Mapped[str | None] = mapped_column(sa.ForeignKey("incubators.id"), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    match_pending: Mapped[bool] = mapped_column(sa.Boolean, index=True, server_default=sa.false())
    """Written (new or changed) and not yet matched for alerts: the change feed a crash cannot lose."""


class TalentVersionRow(Base):
    """An earlier version of a talent, kept only so erasure finds every text whose vectors may be cached (each
    version's profile and works under every encoder); erased with the talent."""

    __tablename__ = "talent_versions"

    id: Mapped[int] = mapped_column(AuditId, primary_key=True, autoincrement=True)
    talent_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONData)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FeedbackRow(RecordRow, Base):
    __tablename__ = "feedback"
    QUERY_COLUMNS = ("need_id", "talent_id", "action", "time")

    need_id: Mapped[str] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    talent_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(sa.String(16), index=True)
    time: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class RelationRow(RecordRow, Base):
    """A declared relation (``features.records.Relation``): erased with its talent; an enterprise with relations
    cannot be deleted until they are."""

    __tablename__ = "relations"
    QUERY_COLUMNS = ("talent_id", "enterprise_id", "kind")

    talent_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[str | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)


class ApiKeyRow(Base):
    """An API key: only the SHA-256 of its secret is kept (see ``service.keys`` for why a fast hash suffices)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    enterprise_id: Mapped[str | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    label: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditRow(Base):
    """Who (key and role) did what (action) to which object, when: PIPL accountability for personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_object", "object_kind", "object_id"),
        sa.Index("ix_audit_log_kind_at", "object_kind", "at"),  # a kind's entries newest first (``service.audit``)
    )

    id: Mapped[int] = mapped_column(AuditId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    action: Mapped[str] = mapped_column(sa.String(32))
    object_kind: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str | None] = mapped_column(sa.String(128))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONData)


class RankingRow(Base):
    """A decision receipt (``service.receipts``): what was ranked, by which key, with which model and rules, and the
    computed page it showed (``page_id``: its candidates are that page's ``RankingDetailRow``s)."""

    __tablename__ = "rankings"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    route: Mapped[str] = mapped_column(sa.String(16))
    need_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id"), index=True)
    model_version: Mapped[str | None] = mapped_column(sa.String(64))
    personalized: Mapped[bool] = mapped_column(sa.Boolean)
    schema_version: Mapped[str] = mapped_column(sa.String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSONData)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONData)
    challenger_version: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    """An interleaved ranking's second model (``model_version`` is the champion's); null: not interleaved."""
    page_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    """The computed page shown: its detail rows are the candidates, less those erased before this receipt. Null: a
    page with no candidates, or a receipt from before version 0017, whose candidates are ``RankingCandidateRow``s."""


class RankingCandidateRow(Base):
    """One returned candidate of a receipt from before version 0017 (a receipt now names its page instead); its
    features and reasons are in the ``RankingDetailRow`` of its ``page_id``. Erasure nulls ``talent_id`` and
    ``score``."""

    __tablename__ = "ranking_candidates"

    ranking_id: Mapped[str] = mapped_column(sa.ForeignKey("rankings.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    talent_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    score: Mapped[float | None] = mapped_column(sa.Float)
    page_id: Mapped[str] = mapped_column(sa.String(32))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    team: Mapped[str | None] = mapped_column(sa.String(16))
    """In an interleaved ranking, the model's team that drafted the candidate (``champion`` or ``challenger``)."""


class RankingDetailRow(Base):
    """A computed page's candidate, written once however often the page is served: score, the interleaving team,
    reasons, named feature row and contributions. Erasure nulls ``talent_id``, ``score`` and ``detail``."""

    __tablename__ = "ranking_details"

    page_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    talent_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONData)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(sa.Float)
    """Null on rows from before version 0017 (their receipts' candidate rows hold it)."""
    team: Mapped[str | None] = mapped_column(sa.String(16))


def shown_candidates(r: sa.Table) -> list[tuple[sa.FromClause, dict[str, sa.ColumnElement]]]:
    """Receipt head ``r`` joined to its shown candidates, in each of their two shapes: the rows of the page it names
    (less those erased before it), and the candidate rows of a receipt from before version 0017. Each with the
    columns ``ranking_id``, ``position``, ``talent_id``, ``score``, ``page_id``, ``erased_at``, ``team`` and
    ``detail``. A reader selects from both and takes the union: one query each, not a union joined to, which the
    databases would build whole first."""
    c, d = RankingCandidateRow.__table__, RankingDetailRow.__table__
    named = r.join(d, (d.c.page_id == r.c.page_id) & (d.c.erased_at.is_(None) | (d.c.erased_at >= r.c.created_at)))
    old_d = d.alias("old_details")
    old = r.join(c, c.c.ranking_id == r.c.id).outerjoin(
        old_d, (old_d.c.page_id == c.c.page_id) & (old_d.c.position == c.c.position)
    )
    columns = ("position", "talent_id", "score", "page_id", "erased_at", "team")
    return [
        (named, {"ranking_id": r.c.id, **{k: d.c[k] for k in columns}, "detail": d.c.detail}),
        (old, {"ranking_id": c.c.ranking_id, **{k: c.c[k] for k in columns}, "detail": old_d.c.detail}),
    ]


def select_shown(r: sa.Table, *names: str, where: Any) -> sa.CompoundSelect:
    """Columns ``names`` of the shown candidates in both shapes (``shown_candidates``) where ``where(columns)``
    holds, as one union."""
    return sa.union_all(*(sa.select(*(cols[n].label(n) for n in names)).select_from(src).where(where(cols))
                          for src, cols in shown_candidates(r)))  # fmt: skip


class SubscriptionRow(Base):
    """An enterprise's alert subscription (``service.alerts``): one need, or all its open needs when ``need_id`` is
    null. ``secret`` is sealed (``service.alerts.sealing``): the service signs with it, so it is encrypted, not
    hashed. ``verify_hash``: an e-mail subscription waiting for its address to be confirmed (inactive until then)."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    need_id: Mapped[str | None] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    secret: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    top_n: Mapped[int | None] = mapped_column(sa.Integer)
    min_score: Mapped[float | None] = mapped_column(sa.Float)
    delivery: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(sa.Boolean, index=True)
    verify_hash: Mapped[str | None] = mapped_column(sa.String(64))


class OutboxRow(Base):
    """A message to deliver (transactional outbox): one alert, or a digest of alerts (``AlertRow.outbox_id``).
    ``locked_until``/``lease_token`` let several dispatchers claim rows without sending one twice."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(AuditId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(16))
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(sa.String(32))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertRow(Base):
    """One alert: a talent matched one need for one subscription. ``payload`` is what is sent (need, candidate card,
    score, reasons); ``outbox_id`` the message carrying it (null for the inbox, or a digest not yet flushed)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(AuditId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    need_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    talent_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    score: Mapped[float] = mapped_column(sa.Float)
    reason: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    masked: Mapped[bool] = mapped_column(sa.Boolean)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData)
    outbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MatchStateRow(Base):
    """The last score alerted per (need, talent): a pair alerts again only when its score rises past the margin."""

    __tablename__ = "match_state"

    need_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    talent_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True, index=True)
    last_score: Mapped[float] = mapped_column(sa.Float)
    alerted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuotaUsageRow(Base):
    """How many units of a daily quota (``service.quotas``: new needs, ranking requests) an enterprise used on a day
    (in the office's time zone). No foreign key: the counter outlives nothing and blocks no deletion."""

    __tablename__ = "quota_usage"

    enterprise_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    used: Mapped[int] = mapped_column(sa.Integer)


class SavedSearchRow(Base):
    """A free-text search a key saved (``service.saved_searches``): name, the search request as ``params`` (query,
    kind, filters, k, offset), when it was saved and last visited. Owned by the key: no other key sees it."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSONData)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SavedSearchSeenRow(Base):
    """A talent a saved search showed at its last visit: the next visit calls the others new. Deleting the talent
    (erasure) deletes its rows."""

    __tablename__ = "saved_search_seen"

    search_id: Mapped[int] = mapped_column(sa.ForeignKey("saved_searches.id", ondelete="CASCADE"), primary_key=True)
    talent_id: Mapped[str] = mapped_column(
        sa.ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ChangeRow(Base):
    """The change journal: one row per record written (``put``) or deleted (``delete``), and per person whose
    records changed (kind ``person``, ``service.people``), in the transaction that wrote it, ids only (no personal
    data). Another API process reads the rows after the last ``seq`` it applied
    (``service.sync``); writers are serialised on PostgreSQL (``service.store``), so ``seq`` order is commit order
    and a poller never skips a row committed late."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(AuditId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    record_id: Mapped[str] = mapped_column(sa.String(128))
    op: Mapped[str] = mapped_column(sa.String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonMemberRow(Base):
    """Which person a talent record belongs to (``service.people``): ``how`` is ``linked`` (by the model),
    ``confirmed`` (a merge the office confirmed) or ``split`` (an undone merge); ``key_id`` who, null for the CLI."""

    __tablename__ = "person_members"

    talent_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    how: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id", ondelete="SET NULL"))


class PersonPairRow(Base):
    """A pair of records of two persons that may be one, waiting for review (``left_id < right_id``); rewritten by
    each ``people link --apply``."""

    __tablename__ = "person_pairs"

    left_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True)
    right_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)  # fmt: skip
    probability: Mapped[float] = mapped_column(sa.Float)
    agreed: Mapped[list[str]] = mapped_column(JSONData)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonDecisionRow(Base):
    """The office's word on a pair (``left_id < right_id``): ``confirm`` (always one person), ``reject`` or
    ``split`` (an undo: never merged again)."""

    __tablename__ = "person_decisions"

    left_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True)
    right_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)  # fmt: skip
    decision: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id", ondelete="SET NULL"))


class PersonModelRow(Base):
    """The linkage model of the last full ``people link --apply`` (one row, replaced by each): Splink's model JSON,
    the records it was trained on and the thresholds applied, for ``service.people.link_new``."""

    __tablename__ = "person_models"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    model: Mapped[dict[str, Any]] = mapped_column(JSONData)
    records: Mapped[int] = mapped_column(sa.Integer)
    threshold: Mapped[float] = mapped_column(sa.Float)
    review_threshold: Mapped[float] = mapped_column(sa.Float)
    frame_version: Mapped[str] = mapped_column(sa.String(512))
    """``features.people.frame_version()`` of the code that saved the model and the frames."""
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonFrameRow(Base):
    """A talent record's normalised linkage row (``features.people.frame_rows``) as of the record's ``digest``:
    written by ``people link --apply`` for every record and by ``service.people.link_new`` for the records it
    normalised, read by ``link_new`` instead of normalising the pool again (a row whose digest is not the record's is
    built again)."""

    __tablename__ = "person_frames"

    talent_id: Mapped[str] = mapped_column(sa.ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(32))
    row: Mapped[dict[str, Any]] = mapped_column(JSONData)


TABLES: dict[str, type[RecordRow]] = {
    "platform": PlatformRow,
    "incubator": IncubatorRow,
    "enterprise": EnterpriseRow,
    "need": NeedRow,
    "talent": TalentRow,
    "feedback": FeedbackRow,
    "relation": RelationRow,
}
"""Row class per record kind, in the dependency order of ``features.records.RECORD_TYPES``."""


def new_id() -> str:
    """A new id for rows written on the hot path (ranking receipts, their pages, alerts): a UUIDv7's 32 hex digits,
    milliseconds first, then 74 random bits (unguessable, as uuid4's 122). Time first puts each ranking's receipt
    rows at the right-hand edge of the primary-key B-trees, where a random id sent each to a random
    page of a table that only grows (uuid4: receipt writes 1.9 → 1.2 ms at 1.4M receipt rows)."""
    return uuid7().hex


def table(kind: str) -> sa.Table:
    return TABLES[kind].__table__  # type: ignore[attr-defined]


def query_values(kind: str, record: Record) -> dict[str, Any]:
    """The indexed copies of a record's fields: enums as plain strings, datetimes in UTC."""
    out = {name: getattr(record, name) for name in TABLES[kind].QUERY_COLUMNS}
    for name, value in out.items():
        if isinstance(value, str):
            out[name] = str(value)
        elif isinstance(value, datetime):
            out[name] = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return out


# --- engines -------------------------------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here (the driver we ship)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return make_url(normalize_url(url)).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


class RawJSON(str):
    """JSON text already serialised (the store has it for the digest anyway): bound to a JSON column as is."""


def _json_dumps(value: Any) -> str:
    return value if type(value) is RawJSON else orjson.dumps(value).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets foreign keys enforced, WAL, relaxed fsync, secure delete and
    its writers in this process queued on one lock (``service.sqlite_writers``).
    Statement parameters (names, e-mails, profile text: personal information) never reach a log line or an
    exception's text: ``hide_parameters``."""
    url = normalize_url(url)
    kwargs.setdefault("hide_parameters", True)
    if make_url(url).database not in (None, "", ":memory:") or not url.startswith("sqlite"):
        # as many connections as the server's thread pool (40) can ask for at once: a request must never wait
        # for a connection another request's thread holds
        kwargs = {"pool_size": 10, "max_overflow": 40, **kwargs}
    engine = sa.create_engine(url, json_serializer=_json_dumps, json_deserializer=orjson.loads, **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        if (database := make_url(url).database) not in (None, "", ":memory:"):
            serialize_writers(engine, str(Path(database).resolve()))
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten in the file, not left in free pages
    cursor.close()


# --- migrations ----------------------------------------------------------------------------------------------------


def alembic_config() -> Any:
    """Alembic configured from the installed package (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    return HEAD_REVISION


def current_revision(connection: Connection) -> str | None:
    """The schema revision Alembic recorded, or ``None`` when it never ran here."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def upgrade(target: str | Engine, revision: str = "head") -> str:
    """Migrate a database (URL or engine) to ``revision``; returns the revision it is then at."""
    from alembic import command

    engine = make_engine(target) if isinstance(target, str) else target
    try:
        cfg = alembic_config()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
        with engine.connect() as connection:
            return current_revision(connection) or ""
    finally:
        if isinstance(target, str):
            engine.dispose()


class StoreIdentityRow(Base):
    """One row: a random id made when the database was created (``Store.identity``), which index snapshots record
    so that one store's snapshot is never loaded for another."""

    __tablename__ = "store_identity"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
