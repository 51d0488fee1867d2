"""A lone page's shown list in its receipt's head until written out as candidate rows behind the answer
(``service.shown_rows``): ``rankings.shown`` and the partial index of the heads still pending. A page's commit on a
copy of a 100k store (1.2M candidate rows) 1.0–1.25 → 0.40 ms: twenty rows bound, inserted and indexed by talent on
random pages of a growing index, against one list in the head.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("shown IS NOT NULL")


def upgrade() -> None:
    op.add_column("rankings", sa.Column("shown", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))
    op.create_index("ix_rankings_pending", "rankings", ["id"], sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    # the pending lists become rows first: the candidates they hold exist nowhere else (the SQL 0017 runs)
    from pathlib import Path
    from runpy import run_path

    bind = op.get_bind()
    write_out = run_path(str(Path(__file__).with_name("0017_receipt_names_page.py")))["WRITE_OUT"]
    bind.exec_driver_sql(write_out[bind.dialect.name])
    op.drop_index("ix_rankings_pending", table_name="rankings")
    op.drop_column("rankings", "shown")
