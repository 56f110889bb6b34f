"""Room on the students table's pages for the next version of their rows (PostgreSQL).

Written by hand. Every commit updates the row of each student it holds (their
live state and counters). PostgreSQL writes an updated row without new entries
in the table's indexes (a heap-only tuple) when no indexed column changed and
the row's page has room for the new version; on pages filled to the brim
(fillfactor 100, the default) under half of the updates found room
(benchmarks/write_path.py: 3,393 of 8,150), the others added an entry to each of
the table's three indexes. With fillfactor 50 nearly all of them do (8,071 of
8,150). The table holds a row per student: the space it costs is small. The
setting applies to pages written from now on (a VACUUM FULL rewrites the old).

latest_runs, updated as often, is left as it is here: its ix_latest_runs_last_at
(the notebook list's students of a window) changes with every run, so none of
its updates can be in place (revision 0020 takes that index away).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

STUDENTS_FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE students SET (fillfactor = {STUDENTS_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE students RESET (fillfactor)")
