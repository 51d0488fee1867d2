"""Decision receipts: every ranking served (inputs, model version, rules) and its candidates, and each computed
page's features, contributions and reasons (once per page, however often it is served), kept so a talent's "why"
request can be answered later; a talent's rows are redacted on erasure.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rankings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("need_id", sa.String(length=128)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("key_id", sa.Integer()),
        sa.Column("model_version", sa.String(length=64)),
        sa.Column("personalized", sa.Boolean(), nullable=False),
        sa.Column("schema_version", sa.String(length=16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_rankings_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rankings")),
    )
    op.create_index(op.f("ix_rankings_need_id"), "rankings", ["need_id"])
    op.create_index(op.f("ix_rankings_created_at"), "rankings", ["created_at"])
    op.create_index(op.f("ix_rankings_key_id"), "rankings", ["key_id"])
    op.create_table(
        "ranking_candidates",
        sa.Column("ranking_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("talent_id", sa.String(length=128)),
        sa.Column("score", sa.Float()),
        sa.Column("page_id", sa.String(length=32), nullable=False),
        sa.Column("erased_at", TZ),
        sa.ForeignKeyConstraint(
            ["ranking_id"], ["rankings.id"], name=op.f("fk_ranking_candidates_ranking_id_rankings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ranking_id", "position", name=op.f("pk_ranking_candidates")),
    )
    op.create_index(op.f("ix_ranking_candidates_talent_id"), "ranking_candidates", ["talent_id"])
    op.create_index(op.f("ix_ranking_candidates_page_id"), "ranking_candidates", ["page_id"])
    op.create_table(
        "ranking_details",
        sa.Column("page_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("talent_id", sa.String(length=128)),
        sa.Column("detail", JSON),
        sa.Column("erased_at", TZ),
        sa.PrimaryKeyConstraint("page_id", "position", name=op.f("pk_ranking_details")),
    )
    op.create_index(op.f("ix_ranking_details_talent_id"), "ranking_details", ["talent_id"])


def downgrade() -> None:
    op.drop_table("ranking_details")
    op.drop_table("ranking_candidates")
    op.drop_table("rankings")
