"""Relations: declared ties between a talent and an enterprise or a named person (conflict-of-interest rule);
erased with the talent.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "relations",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("written_at", TZ, nullable=False),
        sa.Column("talent_id", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.String(length=128)),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["talent_id"], ["talents.id"], name=op.f("fk_relations_talent_id_talents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_relations_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relations")),
    )
    for column in ("written_at", "talent_id", "enterprise_id", "kind"):
        op.create_index(op.f(f"ix_relations_{column}"), "relations", [column])


def downgrade() -> None:
    op.drop_table("relations")
