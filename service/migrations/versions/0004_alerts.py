"""Enterprise match alerts: subscriptions, alerts (the inbox), the transactional outbox, per-pair dedup state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _index(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enterprise_id", sa.String(length=128), nullable=False),
        sa.Column("need_id", sa.String(length=128)),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000)),
        sa.Column("secret", sa.String(length=200)),
        sa.Column("email", sa.String(length=320)),
        sa.Column("top_n", sa.Integer()),
        sa.Column("min_score", sa.Float()),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_subscriptions_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name=op.f("fk_subscriptions_need_id_needs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    _index("subscriptions", "enterprise_id", "need_id", "active")
    op.create_table(
        "outbox",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("locked_until", TZ),
        sa.Column("lease_token", sa.String(length=32)),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_outbox_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    _index("outbox", "subscription_id", "status", "next_attempt_at")
    op.create_table(
        "alerts",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.String(length=128), nullable=False),
        sa.Column("need_id", sa.String(length=128), nullable=False),
        sa.Column("talent_id", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("outbox_id", BIGID),
        sa.Column("read_at", TZ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_alerts_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_alerts_outbox_id_outbox"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_alerts_idempotency_key")),
    )
    _index("alerts", "subscription_id", "enterprise_id", "need_id", "talent_id", "created_at", "status", "outbox_id")
    op.create_table(
        "match_state",
        sa.Column("need_id", sa.String(length=128), nullable=False),
        sa.Column("talent_id", sa.String(length=128), nullable=False),
        sa.Column("last_score", sa.Float(), nullable=False),
        sa.Column("alerted_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("need_id", "talent_id", name=op.f("pk_match_state")),
    )
    _index("match_state", "talent_id")


def downgrade() -> None:
    for name in ("match_state", "alerts", "outbox", "subscriptions"):
        op.drop_table(name)
