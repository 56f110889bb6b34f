"""Help requests as server-side state: who claimed a request, and each request's history.

Written by hand. Adds the claim and the client's ask id to the students' live
state, and the help_requests table; each student whose request is open now
gets its open row (opened at help_since).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import BigIntId, UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("students", sa.Column("help_ask_id", sa.String(128), nullable=True))
    op.add_column("students", sa.Column("help_claimed_by", sa.String(256), nullable=True))
    op.add_column("students", sa.Column("help_claimed_at", UtcDateTime(), nullable=True))
    op.create_table(
        "help_requests",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("notebook_path", sa.String(1024), nullable=True),
        sa.Column("ask_id", sa.String(128), nullable=True),
        sa.Column("claimed_by", sa.String(256), nullable=True),
        sa.Column("claimed_at", UtcDateTime(), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(256), nullable=True),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_help_requests_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_help_requests"),
    )
    op.create_index("ix_help_requests_student_id", "help_requests", ["student_id"])
    op.create_index("ix_help_requests_opened_at", "help_requests", ["opened_at"])
    op.create_index("ix_help_requests_open", "help_requests", ["closed_at", "opened_at"])
    op.execute(
        "INSERT INTO help_requests (student_id, state, opened_at, notebook_path) "
        "SELECT id, 'open', help_since, last_notebook FROM students "
        "WHERE help_since IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_help_requests_open", table_name="help_requests")
    op.drop_index("ix_help_requests_opened_at", table_name="help_requests")
    op.drop_index("ix_help_requests_student_id", table_name="help_requests")
    op.drop_table("help_requests")
    # Plain ALTER TABLE (SQLite >= 3.35 drops a column in place): a batch copy of
    # students would cascade-delete every event and execution on SQLite.
    for column in ("help_claimed_at", "help_claimed_by", "help_ask_id"):
        op.drop_column("students", column)
