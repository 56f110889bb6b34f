"""Fewer index entries per stored event: two indexes of the log no read needs whole.

Written by hand. Every stored event paid for an entry in ix_events_type_time,
every stored execution for one in ix_cell_executions_notebook_time; what reads
them now (EXPLAIN on PostgreSQL, docs/benchmarks.md):

- ix_events_type_time becomes partial: every event but the cell executions,
  the log's bulk (~80 %). `/api/v1/events?eventType=` reads the other types
  from it (reports/queries.py repeats the index's condition, which SQLite
  needs to see in the query; PostgreSQL infers it) and cell_executed from
  ix_events_time with a filter: a page of them is among the newest events. A
  student's help requests (student detail) read it as before.
- ix_cell_executions_notebook_time goes: a notebook's runs are found by
  ix_cell_executions_notebook_cell (its first column), the notebook export
  sorts what it exports (it did already without a time window), and on
  PostgreSQL a time window picks the month partitions.

On PostgreSQL an index of the partitioned tables is created and dropped on the
parent, which does the same on every partition (a partition attached later
gets the parent's indexes, storage/partitions.py). Both directions lock the
table while they run; building an index reads the whole log (the upgrade's
partial index and the downgrade's two: about a minute per ten million events).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# As cell_monitor.storage.models.NOT_DENSE_EVENT_TYPE.
NOT_EXECUTIONS = "event_type <> 'cell_executed'"


def upgrade() -> None:
    op.execute("DROP INDEX ix_events_type_time")
    op.execute(
        f"CREATE INDEX ix_events_type_time ON events (event_type, event_time DESC) "
        f"WHERE {NOT_EXECUTIONS}"
    )
    op.execute("DROP INDEX ix_cell_executions_notebook_time")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX ix_cell_executions_notebook_time ON cell_executions "
        "(notebook_id, event_time DESC)"
    )
    op.execute("DROP INDEX ix_events_type_time")
    op.execute("CREATE INDEX ix_events_type_time ON events (event_type, event_time DESC)")
