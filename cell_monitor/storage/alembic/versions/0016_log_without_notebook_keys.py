"""PostgreSQL: no foreign key from the event log to notebooks.

Every row of events and cell_executions names one of the few notebooks of a
class, so each stored row's check locked the same notebooks row once more
(`FOR KEY SHARE`, a tuple lock per row): about 10 µs of PostgreSQL's time per
stored execution, a quarter of what a group write costs it (measured with
benchmarks/write_path.py, docs/benchmarks.md). Nothing relies on the keys: the
writer takes a notebook's id from the row it has just read or inserted, in the
group's transaction; erasure deletes only the notebooks no event or execution
names, and nothing else deletes notebooks. What the keys did for a group in
flight that names a notebook erasure is deleting, storage/notebook_guard.py does
once per group (a shared transaction lock against erasure's exclusive one), not
once per stored row. The keys to students stay (erasure relies on their
cascade for rows a concurrent commit adds), and so does the key from
latest_runs to notebooks. SQLite keeps its keys (its schema is the models').

The downgrade sets to NULL a notebook id that names no notebook (what the key
would have done) and adds both keys back.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KEYS = {
    "events": "fk_events_notebook_id_notebooks",
    "cell_executions": "fk_cell_executions_notebook_id_notebooks",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name in KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name in KEYS.items():
        op.execute(
            f"UPDATE {table} SET notebook_id = NULL WHERE notebook_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM notebooks n WHERE n.id = notebook_id)"
        )
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (notebook_id) "
            "REFERENCES notebooks (id) ON DELETE SET NULL"
        )
