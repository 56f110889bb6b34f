"""Test results per question, time on task per cell, engagement state on students.

- test_results: a student's latest outcome of each question of a notebook, its
  attempts and the first time it passed;
- cell_activity: a student's edits and active time per cell;
- students: visibility, the client's idle flag and "editing without a passing
  run since" (the live statuses `quiet` and `away`).

New tables start empty (nothing in the log carried these signals before); the
new student columns are nullable or have server defaults, so the upgrade does
not rewrite the students table on PostgreSQL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _student_columns() -> list[sa.Column]:
    return [
        sa.Column("visible", sa.Boolean()),
        sa.Column("hidden_since", UtcDateTime()),
        sa.Column("input_idle", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("engagement_at", UtcDateTime()),
        sa.Column("editing_since", UtcDateTime()),
        sa.Column("editing_cell_index", sa.Integer()),
    ]


def _keys(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=f"fk_{table}_student_id_students",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=f"fk_{table}_notebook_id_notebooks",
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: a batch (copy and rename) of students
    # on SQLite would cascade-delete every event when its old table is dropped.
    for column in _student_columns():
        op.add_column("students", column)
    op.create_table(
        "test_results",
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("notebook_id", BigIntId, nullable=False),
        sa.Column("question", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cell_index", sa.Integer()),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("points", sa.Float()),
        sa.Column("max_points", sa.Float()),
        sa.Column("error_name", sa.String(512)),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("first_at", UtcDateTime(), nullable=False),
        sa.Column("first_passed_at", UtcDateTime()),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        sa.Column("last_event_pk", sa.BigInteger(), nullable=False),
        *_keys("test_results"),
        sa.PrimaryKeyConstraint("student_id", "notebook_id", "question", name="pk_test_results"),
    )
    op.create_index("ix_test_results_notebook", "test_results", ["notebook_id", "student_id"])
    op.create_index("ix_test_results_last_at", "test_results", ["last_at"])
    op.create_table(
        "cell_activity",
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("notebook_id", BigIntId, nullable=False),
        sa.Column("cell_index", sa.Integer(), nullable=False),
        sa.Column("active_ms", sa.Float(), nullable=False),
        sa.Column("edits", sa.BigInteger(), nullable=False),
        sa.Column("reports", sa.BigInteger(), nullable=False),
        sa.Column("first_at", UtcDateTime(), nullable=False),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        *_keys("cell_activity"),
        sa.PrimaryKeyConstraint("student_id", "notebook_id", "cell_index", name="pk_cell_activity"),
    )
    op.create_index("ix_cell_activity_notebook", "cell_activity", ["notebook_id", "student_id"])
    op.create_index("ix_cell_activity_last_at", "cell_activity", ["last_at"])


def downgrade() -> None:
    op.drop_table("cell_activity")
    op.drop_table("test_results")
    for column in reversed(_student_columns()):
        op.drop_column("students", column.name)
