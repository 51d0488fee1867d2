"""People in the store (``service.people``): which person each talent record belongs to and how it got there, the
pairs waiting for review, and the office's decisions on pairs, which every later re-link respects.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _talent(column: str, table: str) -> sa.Column:
    return sa.Column(column, sa.String(length=128), sa.ForeignKey("talents.id", ondelete="CASCADE",
                     name=op.f(f"fk_{table}_{column}_talents")), nullable=False)  # fmt: skip


def _key(table: str) -> sa.Column:
    return sa.Column("key_id", sa.Integer(), sa.ForeignKey("api_keys.id", ondelete="SET NULL",
                     name=op.f(f"fk_{table}_key_id_api_keys")), nullable=True)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "person_members",
        _talent("talent_id", "person_members"),
        sa.Column("person_id", sa.String(length=128), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("at", TZ, nullable=False),
        _key("person_members"),
        sa.PrimaryKeyConstraint("talent_id", name=op.f("pk_person_members")),
    )
    op.create_index(op.f("ix_person_members_person_id"), "person_members", ["person_id"])
    op.create_table(
        "person_pairs",
        _talent("left_id", "person_pairs"),
        _talent("right_id", "person_pairs"),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("agreed", JSON, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("left_id", "right_id", name=op.f("pk_person_pairs")),
    )
    op.create_index(op.f("ix_person_pairs_right_id"), "person_pairs", ["right_id"])
    op.create_table(
        "person_decisions",
        _talent("left_id", "person_decisions"),
        _talent("right_id", "person_decisions"),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("at", TZ, nullable=False),
        _key("person_decisions"),
        sa.PrimaryKeyConstraint("left_id", "right_id", name=op.f("pk_person_decisions")),
    )
    op.create_index(op.f("ix_person_decisions_right_id"), "person_decisions", ["right_id"])


def downgrade() -> None:
    op.drop_table("person_decisions")
    op.drop_table("person_pairs")
    op.drop_table("person_members")
