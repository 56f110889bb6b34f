"""Hotspots over a window and the heatmap from the report tables alone.

Written by hand, self-contained (the group hash is repeated from 0008):

- error_minutes: errors per (minute, hotspot group), sharded like the other
  counters, backfilled from cell_executions (shard 0); hotspots over a window
  sum them instead of reading the window's errors from the log;
- ix_error_students_last_at: who hit a group since a time (their latest error
  of the group is in the window);
- ix_latest_runs_cells replaces ix_latest_runs_notebook: the heatmap reads
  (notebook, student, cell, failed) from the index alone;
- ix_cell_executions_errors_time goes: nothing reads the log's errors by time
  any more, and every stored error paid for its entry;
- PostgreSQL: the foreign key from cell_executions to the partitioned events
  goes. Its check cost ~60 µs per stored execution (a lookup through the
  partitioned parent per row, measured with EXPLAIN ANALYZE: the largest single
  cost of a group write); the writer stores an execution in the same
  transaction as its event, and erasure and retention delete executions before
  their events (or drop both months' partitions together).

On PostgreSQL the backfill hashes every stored error once (about a minute per
million errors on a small machine).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection, text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PG_GROUP_KEY = (
    "encode(sha256(convert_to(concat_ws(chr(31), "
    "coalesce('v' || ce.notebook_id::text, '-'), coalesce('v' || ce.cell_index::text, '-'), "
    "coalesce('v' || ce.error_name, '-'), coalesce('v' || ce.error_message, '-')), "
    "'UTF8')), 'hex')"
)
PG_MINUTE = "CAST(floor(extract(epoch FROM ce.event_time) / 60) AS BIGINT)"
PG_ERROR_MINUTES = f"""
INSERT INTO error_minutes (minute, group_id, shard, occurrences)
SELECT e.minute, g.id, 0, sum(e.n)
FROM (SELECT {PG_MINUTE} AS minute, {PG_GROUP_KEY} AS group_key, count(*) AS n
      FROM cell_executions ce WHERE ce.has_error
      GROUP BY 1, ce.notebook_id, ce.cell_index, ce.error_name, ce.error_message) e
JOIN error_groups g USING (group_key)
GROUP BY e.minute, g.id
"""


def _group_key(*parts: Any) -> str:
    # As cell_monitor.storage.report_tables.group_key.
    text_parts = ("-" if v is None else f"v{v}" for v in parts)
    return hashlib.sha256("\x1f".join(text_parts).encode()).hexdigest()


def _minutes_in_python(conn: Connection) -> None:
    """SQLite has no SHA-256 in SQL: group there, hash here."""
    rows = conn.execute(
        text(
            "SELECT CAST(strftime('%s', event_time) AS INTEGER) / 60, notebook_id, cell_index, "
            "error_name, error_message, count(*) FROM cell_executions WHERE has_error "
            "GROUP BY 1, 2, 3, 4, 5"
        )
    ).all()
    ids: dict[str, int] = dict(conn.execute(text("SELECT group_key, id FROM error_groups")).all())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for minute, notebook_id, cell_index, name, message, n in rows:
        group = ids.get(_group_key(notebook_id, cell_index, name, message))
        if group is not None:
            counts[(minute, group)] += n
    if counts:
        conn.execute(
            text(
                "INSERT INTO error_minutes (minute, group_id, shard, occurrences) "
                "VALUES (:m, :g, 0, :n)"
            ),
            [{"m": m, "g": g, "n": n} for (m, g), n in sorted(counts.items())],
        )


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "error_minutes",
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name="fk_error_minutes_group_id_error_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("minute", "group_id", "shard", name="pk_error_minutes"),
    )
    if conn.dialect.name == "postgresql":
        conn.execute(text(PG_ERROR_MINUTES))
    else:
        _minutes_in_python(conn)
    op.create_index("ix_error_students_last_at", "error_students", ["last_at", "group_id"])
    op.create_index(
        "ix_latest_runs_cells",
        "latest_runs",
        ["notebook_id", "student_id", "cell_index", "failed"],
    )
    op.drop_index("ix_latest_runs_notebook", table_name="latest_runs")
    op.execute("DROP INDEX ix_cell_executions_errors_time")
    if conn.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE cell_executions "
            "DROP CONSTRAINT IF EXISTS fk_cell_executions_event_pk_events"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Dropped first: a database upgraded by an earlier draft of this revision kept it.
        op.execute(
            "ALTER TABLE cell_executions "
            "DROP CONSTRAINT IF EXISTS fk_cell_executions_event_pk_events"
        )
        op.execute(
            "ALTER TABLE cell_executions ADD CONSTRAINT fk_cell_executions_event_pk_events "
            "FOREIGN KEY (event_pk, event_time) REFERENCES events (id, event_time) "
            "ON DELETE CASCADE"
        )
    op.execute(
        "CREATE INDEX ix_cell_executions_errors_time ON cell_executions "
        "(event_time DESC) WHERE has_error"
    )
    op.create_index("ix_latest_runs_notebook", "latest_runs", ["notebook_id", "student_id"])
    op.drop_index("ix_latest_runs_cells", table_name="latest_runs")
    op.drop_index("ix_error_students_last_at", table_name="error_students")
    op.drop_table("error_minutes")
