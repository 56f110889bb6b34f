"""SQLite: event ids are never reused (AUTOINCREMENT), as PostgreSQL's sequence.

Without AUTOINCREMENT, SQLite gives a new row max(id) + 1: after the newest
events are deleted (a student erased, retention), the next events take ids the
InfluxDB sink has already passed, and it never writes them. The events table
is rebuilt with `id INTEGER PRIMARY KEY AUTOINCREMENT` and its ids kept; the
counter starts above every id a sink has saved, so ids used before this
revision and deleted since are not handed out again. PostgreSQL: nothing to do.

The rebuild copies the table (seconds for a million events) with foreign keys
off, as SQLite's documented procedure for table changes requires: with them on,
dropping the old table would delete every cell execution through the cascade.

Written by hand and self-contained (the schema is repeated here).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (
    "id, event_id, event_type, event_time, received_at, student_id, notebook_id, "
    "session_id, truncated, extra"
)
CONSTRAINTS = """
    CONSTRAINT fk_events_notebook_id_notebooks FOREIGN KEY(notebook_id)
        REFERENCES notebooks (id) ON DELETE SET NULL,
    CONSTRAINT fk_events_session_id_sessions FOREIGN KEY(session_id)
        REFERENCES sessions (id) ON DELETE SET NULL,
    CONSTRAINT fk_events_student_id_students FOREIGN KEY(student_id)
        REFERENCES students (id) ON DELETE CASCADE,
    CONSTRAINT uq_events_event_id UNIQUE (event_id)
"""
COLUMN_TYPES = """
    event_id VARCHAR(128) NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    event_time DATETIME NOT NULL,
    received_at DATETIME NOT NULL,
    student_id INTEGER NOT NULL,
    notebook_id INTEGER,
    session_id INTEGER,
    truncated BOOLEAN DEFAULT 0 NOT NULL,
    extra JSON,
"""
INDEXES = {
    "ix_events_student_time": "student_id, event_time DESC",
    "ix_events_notebook_time": "notebook_id, event_time DESC",
    "ix_events_type_time": "event_type, event_time DESC",
    "ix_events_time": "event_time DESC",
    "ix_events_session_id": "session_id",
}


def _rebuild(conn: Connection, id_column: str, key: str = "") -> None:
    """Copy events into a table whose id column is `id_column`, keeping ids and indexes."""
    definition = f"{id_column},{COLUMN_TYPES}{key}{CONSTRAINTS}"
    conn.exec_driver_sql(f"CREATE TABLE _events_new ({definition})")
    conn.exec_driver_sql(f"INSERT INTO _events_new ({COLUMNS}) SELECT {COLUMNS} FROM events")
    conn.exec_driver_sql("DROP TABLE events")  # its indexes go with it
    conn.exec_driver_sql("ALTER TABLE _events_new RENAME TO events")
    for name, columns in INDEXES.items():
        conn.exec_driver_sql(f"CREATE INDEX {name} ON events ({columns})")
    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"foreign keys broken by the rebuild of events: {problems[:5]}")


def _without_foreign_keys(change: str) -> None:
    """Run `change` in one transaction of its own with foreign keys off (SQLite only)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    # PRAGMA foreign_keys is a no-op inside a transaction: end alembic's first.
    with op.get_context().autocommit_block():
        conn = op.get_bind()
        conn.exec_driver_sql("COMMIT")  # the one the engine's begin hook opened
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                if change == "upgrade":
                    _rebuild(conn, "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT")
                    _start_counter(conn)
                else:
                    _rebuild(conn, "id INTEGER NOT NULL", "CONSTRAINT pk_events PRIMARY KEY (id),")
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def _start_counter(conn: Connection) -> None:
    # Above the newest event and above every sink's saved position: ids up to
    # there were handed out, even if their events were deleted since.
    high = conn.exec_driver_sql(
        "SELECT max(coalesce((SELECT max(id) FROM events), 0),"
        " coalesce((SELECT max(last_event_pk) FROM sink_positions), 0))"
    ).scalar_one()
    conn.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'events'")
    conn.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (high,))


def upgrade() -> None:
    _without_foreign_keys("upgrade")


def downgrade() -> None:
    _without_foreign_keys("downgrade")
