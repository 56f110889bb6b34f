"""Report tables kept current by the writer, backfilled here from the log.

Written by hand, self-contained (it does not import the code that maintains the
tables, cell_monitor/storage/report_tables.py, which may change later; the
schema and the group hash are repeated here). Creates:

- latest_runs: the newest run of each (student, notebook, cell);
- event_type_counts: events per type (sharded counters);
- execution_minutes: executions and errors per minute and notebook (sharded);
- error_groups, error_group_counts, error_students: hotspots and who hit them;
- ix_cell_executions_errors_time: errors by time (partial index), for hotspots
  over a window.

and fills them from events / cell_executions (all in shard 0). On PostgreSQL
the backfill reads the whole log once per table and the index is built on
every partition: minutes for a term of tens of millions of events, during which
the upgrade holds the new tables and a SHARE lock on cell_executions (ingest
waits); run it in a quiet hour.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection, text

from cell_monitor.storage.models import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLES = (
    "error_students",
    "error_group_counts",
    "error_groups",
    "execution_minutes",
    "event_type_counts",
    "latest_runs",
)


def _group_key(*parts: Any) -> str:
    # As cell_monitor.storage.report_tables.group_key.
    text_parts = ("-" if v is None else f"v{v}" for v in parts)
    return hashlib.sha256("\x1f".join(text_parts).encode()).hexdigest()


# The same hash in PostgreSQL's SQL, over the columns of cell_executions `ce`.
PG_GROUP_KEY = (
    "encode(sha256(convert_to(concat_ws(chr(31), "
    "coalesce('v' || ce.notebook_id::text, '-'), coalesce('v' || ce.cell_index::text, '-'), "
    "coalesce('v' || ce.error_name, '-'), coalesce('v' || ce.error_message, '-')), "
    "'UTF8')), 'hex')"
)


def _create_tables() -> None:
    op.create_table(
        "latest_runs",
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("notebook_id", BigIntId, nullable=False),
        sa.Column("cell_index", sa.Integer(), nullable=False),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        sa.Column("last_event_pk", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("error_name", sa.String(512)),
        sa.Column("error_message", sa.Text()),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("first_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_latest_runs_student_id_students",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name="fk_latest_runs_notebook_id_notebooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("student_id", "notebook_id", "cell_index", name="pk_latest_runs"),
    )
    op.create_index("ix_latest_runs_notebook", "latest_runs", ["notebook_id", "student_id"])
    op.create_index("ix_latest_runs_last_at", "latest_runs", ["last_at"])
    op.create_table(
        "event_type_counts",
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_type", "shard", name="pk_event_type_counts"),
    )
    op.create_table(
        "execution_minutes",
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("notebook_id", sa.BigInteger(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("executions", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "notebook_id", "shard", name="pk_execution_minutes"),
    )
    op.create_table(
        "error_groups",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("group_key", sa.String(64), nullable=False),
        sa.Column("notebook_id", sa.BigInteger()),
        sa.Column("cell_index", sa.Integer()),
        sa.Column("error_name", sa.String(512)),
        sa.Column("error_message", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_error_groups"),
        sa.UniqueConstraint("group_key", name="uq_error_groups_group_key"),
    )
    op.create_table(
        "error_group_counts",
        sa.Column("group_id", BigIntId, nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("students", sa.BigInteger(), nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name="fk_error_group_counts_group_id_error_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "shard", name="pk_error_group_counts"),
    )
    op.create_table(
        "error_students",
        sa.Column("group_id", BigIntId, nullable=False),
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name="fk_error_students_group_id_error_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_error_students_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "student_id", name="pk_error_students"),
    )
    op.create_index(
        "ix_error_students_group_last",
        "error_students",
        ["group_id", sa.text("last_at DESC")],
    )
    op.create_index("ix_error_students_student", "error_students", ["student_id"])


LATEST_RUNS = """
INSERT INTO latest_runs (student_id, notebook_id, cell_index, last_at, last_event_pk, failed,
                         error_name, error_message, runs, first_at)
SELECT student_id, notebook_id, cell_index, event_time, event_pk, has_error,
       CASE WHEN has_error THEN error_name END, CASE WHEN has_error THEN error_message END,
       runs, first_at
FROM (SELECT student_id, notebook_id, cell_index, event_time, event_pk, has_error, error_name,
             error_message,
             row_number() OVER (PARTITION BY student_id, notebook_id, cell_index
                                ORDER BY event_time DESC, event_pk DESC) AS newest,
             count(*) OVER (PARTITION BY student_id, notebook_id, cell_index) AS runs,
             min(event_time) OVER (PARTITION BY student_id, notebook_id, cell_index) AS first_at
      FROM cell_executions WHERE notebook_id IS NOT NULL AND cell_index IS NOT NULL) runs
WHERE newest = 1
"""
EVENT_TYPES = """
INSERT INTO event_type_counts (event_type, shard, events)
SELECT event_type, 0, count(*) FROM events GROUP BY event_type
"""
MINUTE = {
    "postgresql": "CAST(floor(extract(epoch FROM event_time) / 60) AS BIGINT)",
    "sqlite": "(CAST(strftime('%s', event_time) AS INTEGER) / 60)",
}
MINUTES = """
INSERT INTO execution_minutes (minute, notebook_id, shard, executions, errors)
SELECT {minute}, coalesce(notebook_id, 0), 0, count(*),
       sum(CASE WHEN has_error THEN 1 ELSE 0 END)
FROM cell_executions GROUP BY 1, 2
"""
PG_ERROR_GROUPS = f"""
INSERT INTO error_groups (group_key, notebook_id, cell_index, error_name, error_message)
SELECT {PG_GROUP_KEY}, ce.notebook_id, ce.cell_index, ce.error_name, ce.error_message
FROM cell_executions ce WHERE ce.has_error
GROUP BY ce.notebook_id, ce.cell_index, ce.error_name, ce.error_message
"""
PG_ERROR_STUDENTS = f"""
INSERT INTO error_students (group_id, student_id, occurrences, last_at)
SELECT g.id, e.student_id, sum(e.n), max(e.last_at)
FROM (SELECT {PG_GROUP_KEY} AS group_key, ce.student_id, count(*) AS n,
             max(ce.event_time) AS last_at
      FROM cell_executions ce WHERE ce.has_error
      GROUP BY ce.notebook_id, ce.cell_index, ce.error_name, ce.error_message,
               ce.student_id) e
JOIN error_groups g USING (group_key)
GROUP BY g.id, e.student_id
"""
GROUP_COUNTS = """
INSERT INTO error_group_counts (group_id, shard, students, occurrences)
SELECT group_id, 0, count(*), sum(occurrences) FROM error_students GROUP BY group_id
"""


def _errors_in_python(conn: Connection) -> None:
    """SQLite has no SHA-256 in SQL: group there, hash here."""
    rows = conn.execute(
        text(
            "SELECT notebook_id, cell_index, error_name, error_message, student_id, "
            "count(*), max(event_time) FROM cell_executions WHERE has_error "
            "GROUP BY notebook_id, cell_index, error_name, error_message, student_id"
        )
    ).all()
    ids: dict[str, int] = {}
    students: dict[tuple[int, int], list[Any]] = {}
    for notebook_id, cell_index, name, message, student_id, count, last_at in rows:
        key = _group_key(notebook_id, cell_index, name, message)
        if key not in ids:
            ids[key] = conn.execute(
                text(
                    "INSERT INTO error_groups (group_key, notebook_id, cell_index, error_name, "
                    "error_message) VALUES (:k, :n, :c, :e, :m) RETURNING id"
                ),
                {"k": key, "n": notebook_id, "c": cell_index, "e": name, "m": message},
            ).scalar_one()
        students[(ids[key], student_id)] = [count, last_at]
    if students:
        conn.execute(
            text(
                "INSERT INTO error_students (group_id, student_id, occurrences, last_at) "
                "VALUES (:g, :s, :n, :t)"
            ),
            [{"g": g, "s": s, "n": n, "t": t} for (g, s), (n, t) in students.items()],
        )


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    _create_tables()
    # On PostgreSQL this creates the index on every partition of cell_executions.
    op.execute(
        "CREATE INDEX ix_cell_executions_errors_time ON cell_executions "
        "(event_time DESC) WHERE has_error"
    )
    conn.execute(text(LATEST_RUNS))
    conn.execute(text(EVENT_TYPES))
    conn.execute(text(MINUTES.format(minute=MINUTE[dialect])))
    if dialect == "postgresql":
        conn.execute(text(PG_ERROR_GROUPS))
        conn.execute(text(PG_ERROR_STUDENTS))
    else:
        _errors_in_python(conn)
    conn.execute(text(GROUP_COUNTS))


def downgrade() -> None:
    op.execute("DROP INDEX ix_cell_executions_errors_time")
    for table in TABLES:
        op.drop_table(table)
