"""latest_runs updated in place: the notebook list's students get a table of their own.

Written by hand. Every run updates its latest_runs row, and PostgreSQL updates
a row without new index entries (a heap-only tuple) only when no indexed column
changes. ix_latest_runs_last_at held a column every run changes; it goes.

It was read by the notebook list (how many students ran a cell of each
notebook in a window). notebook_students keeps that instead: per student and
notebook, when the student last ran a cell of it (the newest last_at of their
rows of the notebook), backfilled from latest_runs. It has a row per student
and notebook, few enough to read whole, and no index but its key, so its
updates stay in place too.

`failed` stays in ix_latest_runs_cells, so that the heatmap still reads a
notebook from the index alone: a run that turns its cell from failed to
passed (or back) is not updated in place, the others are.

On PostgreSQL both tables leave room on each page for the next version of its
rows (fillfactor 70; pages written from now on). Measured with
benchmarks/write_path.py (docs/benchmarks.md).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FILLFACTOR = 70


def upgrade() -> None:
    op.create_table(
        "notebook_students",
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("notebook_id", BigIntId, nullable=False),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_notebook_students_student_id_students",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name="fk_notebook_students_notebook_id_notebooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("student_id", "notebook_id", name="pk_notebook_students"),
    )
    op.execute(
        "INSERT INTO notebook_students (student_id, notebook_id, last_at) "
        "SELECT student_id, notebook_id, max(last_at) FROM latest_runs "
        "GROUP BY student_id, notebook_id"
    )
    op.drop_index("ix_latest_runs_last_at", table_name="latest_runs")
    if op.get_bind().dialect.name == "postgresql":
        for table in ("latest_runs", "notebook_students"):
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE latest_runs RESET (fillfactor)")
    op.create_index("ix_latest_runs_last_at", "latest_runs", ["last_at"])
    op.drop_table("notebook_students")
