"""Drop ``ix_ranking_candidates_page_id``: nothing looks a receipt's candidates up by page (their page's details are
read by the details' own key), and each served page wrote 20 entries into it (a page's group commit 1.18–1.27 →
1.09–1.14 ms on a copy of a 100k store, stop 50).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_ranking_candidates_page_id"), table_name="ranking_candidates")


def downgrade() -> None:
    op.create_index(op.f("ix_ranking_candidates_page_id"), "ranking_candidates", ["page_id"])
