"""Live class state on students; instructor actions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _live_columns() -> list[sa.Column]:
    return [
        sa.Column("last_notebook", sa.String(1024)),
        sa.Column("last_cell_index", sa.Integer()),
        sa.Column("last_cell_id", sa.String(512)),
        sa.Column("last_execution_at", UtcDateTime()),
        sa.Column("last_execution_failed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("consecutive_errors", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error_name", sa.String(512)),
        sa.Column("last_error_message", sa.String(1024)),
        sa.Column("last_error_at", UtcDateTime()),
        sa.Column("last_error_cell_index", sa.Integer()),
        sa.Column("help_since", UtcDateTime()),
        sa.Column("help_changed_at", UtcDateTime()),
        sa.Column("state_version", sa.BigInteger(), server_default="0", nullable=False),
    ]


def upgrade() -> None:
    # Existing students start from an empty live state; their counters are kept.
    with op.batch_alter_table("students") as batch:
        for column in _live_columns():
            batch.add_column(column)
    op.create_table(
        "instructor_actions",
        sa.Column("id", ID, nullable=False),
        sa.Column("student_id", ID, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256)),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_instructor_actions_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_instructor_actions"),
    )
    op.create_index("ix_instructor_actions_student_id", "instructor_actions", ["student_id"])


def downgrade() -> None:
    op.drop_table("instructor_actions")
    with op.batch_alter_table("students") as batch:
        for column in reversed(_live_columns()):
            batch.drop_column(column.name)
