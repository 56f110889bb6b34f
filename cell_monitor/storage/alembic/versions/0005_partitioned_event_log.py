"""PostgreSQL: events and cell_executions partitioned by month; event_ids dedup table.

Written by hand. SQLite keeps plain tables and only gets an index on
events.session_id (for retention, see below). See
cell_monitor/storage/partitions.py for the design. In short:

- `events` and `cell_executions` become RANGE (event_time) partitioned tables
  with one partition per month and a DEFAULT partition. Their primary keys
  become (id, event_time), as PostgreSQL requires the partition key in every
  unique key; ids keep coming from the same sequences, so the InfluxDB sink's
  saved position stays valid.
- The idempotency key moves to `event_ids` (event_id primary key): a unique
  key on events could only be (event_id, event_time), and an event sent without
  an eventTime gets a new event_time on each resend.
- cell_executions references events by (event_pk, event_time) with ON DELETE
  CASCADE, and both tables use the same bounds: one month drops from both.
- events.session_id keeps no foreign key on PostgreSQL: with one, deleting an
  old session makes PostgreSQL scan every partition for events of it (there is
  no index on session_id, and one more index on the hottest table is not worth
  it). Retention deletes a session only after every event of it, since a
  session's last_seen is the latest event_time of its events.

Rows are copied into the new tables, so upgrading takes an exclusive lock on the
two tables for as long as the copy takes (about a minute per few million rows).

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import op
from sqlalchemy import Connection, text

from cell_monitor.config import Settings
from cell_monitor.storage import partitions

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Existing rows older than this many months stay in the DEFAULT partition
# rather than getting one partition per month back to a broken clock's 1970.
BACKFILL_MONTHS = 24

EVENT_INDEXES = {
    "ix_events_student_time": "student_id, event_time DESC",
    "ix_events_notebook_time": "notebook_id, event_time DESC",
    "ix_events_type_time": "event_type, event_time DESC",
    "ix_events_time": "event_time DESC",
}
EXECUTION_INDEXES = {
    "ix_cell_executions_student_time": "student_id, event_time DESC",
    "ix_cell_executions_notebook_time": "notebook_id, event_time DESC",
    "ix_cell_executions_notebook_cell": "notebook_id, cell_index",
}
FK_STUDENT = "REFERENCES students (id) ON DELETE CASCADE"
FK_NOTEBOOK = "REFERENCES notebooks (id) ON DELETE SET NULL"


def _run(conn: Connection, *statements: str) -> None:
    for statement in statements:
        conn.execute(text(statement))


def _months_ahead() -> int:
    config = op.get_context().config
    settings = config.attributes.get("settings") if config is not None else None
    return (settings or Settings()).partition_months_ahead


def _set_aside(conn: Connection, table: str) -> None:
    """Rename `table` to `<table>_plain` and free its sequence and index names."""
    _run(
        conn,
        f"ALTER TABLE {table} RENAME TO {table}_plain",
        f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE",
    )


def _constraints(conn: Connection, partitioned: bool) -> None:
    """Keys, foreign keys and indexes of both tables, partitioned or plain."""
    key = "id, event_time" if partitioned else "id"
    event_pk = "event_pk, event_time" if partitioned else "event_pk"
    _run(
        conn,
        f"ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY ({key})",
        f"ALTER TABLE events ADD CONSTRAINT fk_events_student_id_students "
        f"FOREIGN KEY (student_id) {FK_STUDENT}",
        f"ALTER TABLE events ADD CONSTRAINT fk_events_notebook_id_notebooks "
        f"FOREIGN KEY (notebook_id) {FK_NOTEBOOK}",
        f"ALTER TABLE cell_executions ADD CONSTRAINT pk_cell_executions PRIMARY KEY ({key})",
        f"ALTER TABLE cell_executions ADD CONSTRAINT uq_cell_executions_event_pk "
        f"UNIQUE ({event_pk})",
        f"ALTER TABLE cell_executions ADD CONSTRAINT fk_cell_executions_event_pk_events "
        f"FOREIGN KEY ({event_pk}) REFERENCES events ({key}) ON DELETE CASCADE",
        f"ALTER TABLE cell_executions ADD CONSTRAINT fk_cell_executions_student_id_students "
        f"FOREIGN KEY (student_id) {FK_STUDENT}",
        f"ALTER TABLE cell_executions ADD CONSTRAINT fk_cell_executions_notebook_id_notebooks "
        f"FOREIGN KEY (notebook_id) {FK_NOTEBOOK}",
        *(f"CREATE INDEX {name} ON events ({cols})" for name, cols in EVENT_INDEXES.items()),
        *(
            f"CREATE INDEX {name} ON cell_executions ({cols})"
            for name, cols in EXECUTION_INDEXES.items()
        ),
    )
    if not partitioned:
        _run(
            conn,
            "ALTER TABLE events ADD CONSTRAINT uq_events_event_id UNIQUE (event_id)",
            "ALTER TABLE events ADD CONSTRAINT fk_events_session_id_sessions "
            "FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE SET NULL",
        )


def _copy_back(conn: Connection, partitioned: bool) -> None:
    """Fill the new events/cell_executions from the `_plain` ones, then drop those."""
    for table in ("events", "cell_executions"):
        _run(conn, f"INSERT INTO {table} SELECT * FROM {table}_plain")
    for table in ("cell_executions", "events"):
        _run(
            conn,
            f"DROP TABLE {table}_plain",
            f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id",
        )
    _constraints(conn, partitioned)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        # SQLite keeps plain tables and its foreign key from events to sessions:
        # deleting an old session looks up its events, a full scan per session
        # without this index (minutes for a prune of a term's sessions).
        op.create_index("ix_events_session_id", "events", ["session_id"])
        return
    _run(
        conn,
        "LOCK TABLE events, cell_executions IN ACCESS EXCLUSIVE MODE",
        "CREATE TABLE event_ids (event_id varchar(128) NOT NULL, "
        "event_time timestamptz NOT NULL, CONSTRAINT pk_event_ids PRIMARY KEY (event_id))",
        "INSERT INTO event_ids (event_id, event_time) SELECT event_id, event_time FROM events",
        "CREATE INDEX ix_event_ids_event_time ON event_ids (event_time)",
        partitions.tuning_sql("event_ids"),
    )
    for table in ("events", "cell_executions"):
        _set_aside(conn, table)
        _run(
            conn,
            f"CREATE TABLE {table} (LIKE {table}_plain INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (event_time)",
        )
    partitions.create_default_partitions(conn)
    now = datetime.now(timezone.utc)
    oldest = conn.execute(text("SELECT min(event_time) FROM events_plain")).scalar_one()
    floor = partitions.add_months(partitions.month_start(now), -BACKFILL_MONTHS)
    first = max(partitions.month_start(oldest), floor) if oldest is not None else now
    last = partitions.add_months(partitions.month_start(now), _months_ahead())
    partitions.ensure_range(conn, first, last)
    _copy_back(conn, partitioned=True)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        op.drop_index("ix_events_session_id", "events")
        return
    _run(conn, "LOCK TABLE events, cell_executions IN ACCESS EXCLUSIVE MODE")
    for table in ("events", "cell_executions"):
        _run(
            conn,
            f"CREATE TABLE {table}_plain (LIKE {table} INCLUDING DEFAULTS)",
            f"INSERT INTO {table}_plain SELECT * FROM {table}",
        )
    for table in ("cell_executions", "events"):
        # The partitions go with their parent.
        _run(conn, f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE", f"DROP TABLE {table}")
    _run(conn, "DROP TABLE event_ids")
    for table in ("events", "cell_executions"):
        _run(
            conn,
            f"ALTER TABLE {table}_plain RENAME TO {table}",
            f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id",
        )
    _constraints(conn, partitioned=False)
