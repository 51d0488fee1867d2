"""Initial schema: one table per record kind (canonical JSON + indexed query columns + foreign keys).

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _record_table(name: str, *columns: sa.Column | sa.Constraint, indexed: Sequence[str] = ()) -> None:
    """A record table: id, digest, canonical JSON, write time, plus the kind's own query columns and indexes."""
    op.create_table(
        name,
        sa.Column("id", sa.String(length=128), nullable=False),
        *columns,
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("written_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    for column in (*indexed, "written_at"):
        op.create_index(op.f(f"ix_{name}_{column}"), name, [column])


def _fk(column: str, table: str, source: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"), ondelete=ondelete
    )


def upgrade() -> None:
    _record_table("platforms")
    _record_table("incubators", sa.Column("country", sa.String(length=2)), indexed=["country"])
    _record_table(
        "enterprises",
        sa.Column("platform_id", sa.String(length=128)),
        _fk("platform_id", "platforms", "enterprises"),
        indexed=["platform_id"],
    )
    _record_table(
        "needs",
        sa.Column("enterprise_id", sa.String(length=128)),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("min_tier", sa.String(length=1)),
        sa.Column("updated_at", TZ),
        _fk("enterprise_id", "enterprises", "needs"),
        indexed=["enterprise_id", "kind", "status", "updated_at"],
    )
    _record_table(
        "talents",
        sa.Column("tier", sa.String(length=1)),
        sa.Column("nationality", sa.String(length=2)),
        sa.Column("incubator_id", sa.String(length=128)),
        sa.Column("updated_at", TZ),
        _fk("incubator_id", "incubators", "talents"),
        indexed=["tier", "nationality", "incubator_id", "updated_at"],
    )
    _record_table(
        "feedback",
        sa.Column("need_id", sa.String(length=128), nullable=False),
        sa.Column("talent_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("time", TZ),
        _fk("need_id", "needs", "feedback", ondelete="CASCADE"),
        _fk("talent_id", "talents", "feedback", ondelete="CASCADE"),
        indexed=["need_id", "talent_id", "action", "time"],
    )


def downgrade() -> None:
    for name in ("feedback", "talents", "needs", "enterprises", "incubators", "platforms"):
        op.drop_table(name)
