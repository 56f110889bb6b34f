"""Initial schema: students, notebooks, sessions, the event log, cell executions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", ID, nullable=False)


def _seen() -> list[sa.Column]:
    return [
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
    ]


def _desc(column: str) -> sa.ColumnElement:
    return sa.literal_column(f"{column} DESC")


def upgrade() -> None:
    op.create_table(
        "notebooks",
        _id(),
        sa.Column("path", sa.String(1024), nullable=False),
        *_seen(),
        sa.PrimaryKeyConstraint("id", name="pk_notebooks"),
        sa.UniqueConstraint("path", name="uq_notebooks_path"),
    )
    op.create_table(
        "students",
        _id(),
        sa.Column("student_key", sa.String(512), nullable=False),
        sa.Column("email_address", sa.String(512)),
        sa.Column("user_id", sa.String(512)),
        sa.Column("user_name", sa.String(512)),
        sa.Column("team_name", sa.String(512)),
        *_seen(),
        sa.Column("event_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("execution_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("error_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_students"),
        sa.UniqueConstraint("student_key", name="uq_students_student_key"),
    )
    op.create_index("ix_students_team_name", "students", ["team_name"])
    op.create_table(
        "sessions",
        _id(),
        sa.Column("student_id", ID, nullable=False),
        sa.Column("session_key", sa.String(512), nullable=False),
        *_seen(),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_sessions_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("student_id", "session_key", name="uq_sessions_student_id_session_key"),
    )
    op.create_table(
        "events",
        _id(),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event_time", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("student_id", ID, nullable=False),
        sa.Column("notebook_id", ID),
        sa.Column("session_id", ID),
        sa.Column("truncated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("extra", sa.JSON()),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name="fk_events_notebook_id_notebooks",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_events_session_id_sessions",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_events_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        # The idempotency key: a resent event is stored once.
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    op.create_index("ix_events_student_time", "events", ["student_id", _desc("event_time")])
    op.create_index("ix_events_notebook_time", "events", ["notebook_id", _desc("event_time")])
    op.create_index("ix_events_type_time", "events", ["event_type", _desc("event_time")])
    op.create_index("ix_events_time", "events", [_desc("event_time")])
    op.create_table(
        "cell_executions",
        _id(),
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("student_id", ID, nullable=False),
        sa.Column("notebook_id", ID),
        sa.Column("event_time", UtcDateTime(), nullable=False),
        sa.Column("cell_id", sa.String(512)),
        sa.Column("cell_index", sa.Integer()),
        sa.Column("cell_type", sa.String(32)),
        sa.Column("code", sa.Text()),
        sa.Column("execution_count", sa.Integer()),
        sa.Column("has_error", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("error_name", sa.String(512)),
        sa.Column("error_message", sa.Text()),
        sa.Column("traceback", sa.Text()),
        sa.Column("result", sa.Text()),
        sa.Column("duration_ms", sa.Float()),
        sa.ForeignKeyConstraint(
            ["event_pk"],
            ["events.id"],
            name="fk_cell_executions_event_pk_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name="fk_cell_executions_notebook_id_notebooks",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_cell_executions_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cell_executions"),
        sa.UniqueConstraint("event_pk", name="uq_cell_executions_event_pk"),
    )
    op.create_index(
        "ix_cell_executions_student_time", "cell_executions", ["student_id", _desc("event_time")]
    )
    op.create_index(
        "ix_cell_executions_notebook_time", "cell_executions", ["notebook_id", _desc("event_time")]
    )
    op.create_index(
        "ix_cell_executions_notebook_cell", "cell_executions", ["notebook_id", "cell_index"]
    )


def downgrade() -> None:
    op.drop_table("cell_executions")
    op.drop_table("events")
    op.drop_table("sessions")
    op.drop_table("students")
    op.drop_table("notebooks")
