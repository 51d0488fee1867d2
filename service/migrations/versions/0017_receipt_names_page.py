"""A receipt names the computed page it showed (``rankings.page_id``) instead of writing one candidate row per
candidate: the page's detail rows, written once however often the page is served, carry each candidate's score and
interleaving team. On a copy of a 100k store ranked for hours, 7.87M candidate rows had been written for 116,160
detail rows (a need ranked again with nothing written lends its last page: ~68 receipts a page). The lists still
pending in heads (``rankings.shown``, version 0016) are written out as candidate rows first; receipts from before
this version keep theirs.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("shown IS NOT NULL")

WRITE_OUT = {
    "sqlite": "INSERT INTO ranking_candidates (ranking_id, position, talent_id, score, page_id, erased_at, team) "
    "SELECT r.id, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'), json_extract(e.value, '$[2]'), "
    "json_extract(e.value, '$[3]'), NULL, json_extract(e.value, '$[4]') FROM rankings AS r, json_each(r.shown) AS e "
    "WHERE r.shown IS NOT NULL ON CONFLICT (ranking_id, position) DO NOTHING",
    "postgresql": "INSERT INTO ranking_candidates (ranking_id, position, talent_id, score, page_id, erased_at, team) "
    "SELECT r.id, (e.value ->> 0)::integer, e.value ->> 1, (e.value ->> 2)::float8, e.value ->> 3, NULL, "
    "e.value ->> 4 FROM rankings AS r, jsonb_array_elements(r.shown) AS e WHERE r.shown IS NOT NULL "
    "ON CONFLICT (ranking_id, position) DO NOTHING",
}
"""Version 0016's pending lists (``[position, talent id, score, page id, team]`` each) as candidate rows."""

EXPAND = (
    "INSERT INTO ranking_candidates (ranking_id, position, talent_id, score, page_id, erased_at, team) "
    "SELECT r.id, d.position, d.talent_id, d.score, d.page_id, d.erased_at, d.team FROM rankings AS r "
    "JOIN ranking_details AS d ON d.page_id = r.page_id WHERE d.erased_at IS NULL OR d.erased_at >= r.created_at"
)
"""A downgrade's candidate rows of the receipts that name their page."""


def upgrade() -> None:
    bind = op.get_bind()
    bind.exec_driver_sql(WRITE_OUT[bind.dialect.name])
    op.drop_index("ix_rankings_pending", table_name="rankings")
    op.drop_column("rankings", "shown")
    op.add_column("rankings", sa.Column("page_id", sa.String(32), nullable=True))
    op.create_index("ix_rankings_page_id", "rankings", ["page_id"])
    op.add_column("ranking_details", sa.Column("score", sa.Float(), nullable=True))
    op.add_column("ranking_details", sa.Column("team", sa.String(16), nullable=True))


def downgrade() -> None:
    op.get_bind().exec_driver_sql(EXPAND)  # the candidates named by page exist nowhere else as rows
    op.drop_column("ranking_details", "team")
    op.drop_column("ranking_details", "score")
    op.drop_index("ix_rankings_page_id", table_name="rankings")
    op.drop_column("rankings", "page_id")
    op.add_column("rankings", sa.Column("shown", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))
    op.create_index("ix_rankings_pending", "rankings", ["id"], sqlite_where=PENDING, postgresql_where=PENDING)
