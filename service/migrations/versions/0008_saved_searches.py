"""Saved searches of the console: a key's named free-text searches and the talents each showed at its last visit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("visited_at", TZ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_saved_searches_key_id_api_keys"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    op.create_index(op.f("ix_saved_searches_key_id"), "saved_searches", ["key_id"])
    op.create_table(
        "saved_search_seen",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("talent_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["search_id"],
            ["saved_searches.id"],
            name=op.f("fk_saved_search_seen_search_id_saved_searches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["talent_id"], ["talents.id"], name=op.f("fk_saved_search_seen_talent_id_talents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("search_id", "talent_id", name=op.f("pk_saved_search_seen")),
    )
    op.create_index(op.f("ix_saved_search_seen_talent_id"), "saved_search_seen", ["talent_id"])


def downgrade() -> None:
    op.drop_table("saved_search_seen")
    op.drop_table("saved_searches")
