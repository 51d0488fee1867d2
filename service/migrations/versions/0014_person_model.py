"""The linkage model of the last full ``people link --apply`` (``service.people``): Splink's trained model and what
scoring needs besides, so that an import links its new records against the existing people with it
(``service.people.link_new``) — in the store, the one source of truth for every process; and each record's
normalised linkage row (``features.people.frame``), so that linking a few new records does not normalise the pool.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "person_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", JSON, nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("review_threshold", sa.Float(), nullable=False),
        sa.Column("frame_version", sa.String(length=512), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_models")),
    )
    op.create_table(
        "person_frames",
        sa.Column(
            "talent_id",
            sa.String(length=128),
            sa.ForeignKey("talents.id", ondelete="CASCADE", name=op.f("fk_person_frames_talent_id_talents")),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("row", JSON, nullable=False),
        sa.PrimaryKeyConstraint("talent_id", name=op.f("pk_person_frames")),
    )


def downgrade() -> None:
    op.drop_table("person_frames")
    op.drop_table("person_models")
