"""Durability: the alerts change feed (``match_pending`` on talents and needs) and the earlier versions of talents
(``talent_versions``, kept only so an erasure can find every text whose vectors were cached).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for table in ("talents", "needs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("match_pending", sa.Boolean(), nullable=False, server_default=sa.false()))
            batch.create_index(op.f(f"ix_{table}_match_pending"), ["match_pending"])
    op.create_table(
        "talent_versions",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("talent_id", sa.String(length=128), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("replaced_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["talent_id"], ["talents.id"], name=op.f("fk_talent_versions_talent_id_talents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_versions")),
    )
    op.create_index(op.f("ix_talent_versions_talent_id"), "talent_versions", ["talent_id"])


def downgrade() -> None:
    op.drop_table("talent_versions")
    for table in ("needs", "talents"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_match_pending"))
            batch.drop_column("match_pending")
