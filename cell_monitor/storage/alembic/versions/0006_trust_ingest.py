"""Help dismissals that hold against resends; client clocks that cannot freeze state.

Written by hand. One nullable column on `students` (no rewrite, no long lock):
when an instructor dismissed the student's open help request, so that the
reference extension's resends of the same request keep it closed.

On PostgreSQL, times stored before eventTime was bounded may be ±infinity
(asyncpg writes datetime.min/max so): they are replaced by the time of the
upgrade, which every later event is newer than.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_STUDENT_TIMES = (
    "first_seen",
    "last_seen",
    "last_execution_at",
    "last_error_at",
    "help_since",
    "help_changed_at",
)


def upgrade() -> None:
    op.add_column("students", sa.Column("help_dismissed_at", UtcDateTime(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _STUDENT_TIMES:
        op.execute(
            f"UPDATE students SET {column} = now() WHERE {column} IN ('infinity', '-infinity')"
        )
    for table in ("notebooks", "sessions"):
        for column in ("first_seen", "last_seen"):
            op.execute(
                f"UPDATE {table} SET {column} = now() WHERE {column} IN ('infinity', '-infinity')"
            )


def downgrade() -> None:
    op.drop_column("students", "help_dismissed_at")
