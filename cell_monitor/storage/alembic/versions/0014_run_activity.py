"""The edits and active time a run carries, kept in its latest_runs row.

A cell_executed event carries its own cell's edits and active time. They used to
go to cell_activity, a second upsert per run besides the latest_runs row the run
updates anyway; now latest_runs adds them up (edits, active_ms) and time on task
sums both tables. What earlier runs put in cell_activity stays there, so the
upgrade moves nothing and the figures are the same. The downgrade adds the
columns back into cell_activity before dropping them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _earlier(column: str) -> str:
    return (
        f"CASE WHEN excluded.{column} < cell_activity.{column} "
        f"THEN excluded.{column} ELSE cell_activity.{column} END"
    )


# `reports` counts the rows' runs (which of them carried activity is not kept).
FOLD_BACK = f"""
INSERT INTO cell_activity
    (student_id, notebook_id, cell_index, active_ms, edits, reports, first_at, last_at)
SELECT student_id, notebook_id, cell_index, active_ms, edits, runs, first_at, last_at
FROM latest_runs WHERE edits > 0 OR active_ms > 0
ON CONFLICT (student_id, notebook_id, cell_index) DO UPDATE SET
    active_ms = cell_activity.active_ms + excluded.active_ms,
    edits = cell_activity.edits + excluded.edits,
    reports = cell_activity.reports + excluded.reports,
    first_at = {_earlier("first_at")},
    last_at = CASE WHEN excluded.last_at > cell_activity.last_at
                   THEN excluded.last_at ELSE cell_activity.last_at END
"""


def upgrade() -> None:
    # Server defaults: no rewrite of latest_runs on PostgreSQL, plain ALTER on SQLite.
    op.add_column(
        "latest_runs", sa.Column("edits", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "latest_runs", sa.Column("active_ms", sa.Float(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.execute(FOLD_BACK)
    op.drop_column("latest_runs", "active_ms")
    op.drop_column("latest_runs", "edits")
