"""Online interleaving: a receipt records its challenger's version, and each shown candidate the model's team that
drafted it (``matcher.interleaving``). Both null for rankings that were not interleaved.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns added in place (no table copy on SQLite: receipts are the largest tables).
    op.add_column("rankings", sa.Column("challenger_version", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_rankings_challenger_version"), "rankings", ["challenger_version"])
    op.add_column("ranking_candidates", sa.Column("team", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ranking_candidates") as batch:
        batch.drop_column("team")
    with op.batch_alter_table("rankings") as batch:
        batch.drop_index("ix_rankings_challenger_version")
        batch.drop_column("challenger_version")
