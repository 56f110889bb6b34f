"""PostgreSQL: no foreign key from the event log to students.

Each stored event and each stored execution ran its key's check, a query that
locks the student's row `FOR KEY SHARE` once more, although the group holds that
row locked already: about 10 µs of PostgreSQL's time per stored execution, a
fifth of what a group write costs it (benchmarks/write_path.py, docs/benchmarks.md).

Nothing needs the keys any more. The writer takes a student's id from the row it
has just locked or inserted in the group's transaction, and nothing but the
writer adds rows to the log. Erasure, the only thing that deletes students,
deletes their events and executions itself, children first. And it holds
storage/notebook_guard.py's lock exclusively while write groups hold it shared,
so no group commits rows of an erased student while the erasure runs. That rules
out the one case the cascade used to cover. Revision 0016 made the same
argument for the keys to notebooks. The other tables keep their keys to students,
and SQLite keeps all of its keys (its schema is the models').

The downgrade deletes the rows of the log that name no student (what the cascade
would have done) and adds both keys back; checking them reads the whole log.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KEYS = {
    "events": "fk_events_student_id_students",
    "cell_executions": "fk_cell_executions_student_id_students",
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
            f"DELETE FROM {table} t WHERE NOT EXISTS "
            "(SELECT 1 FROM students s WHERE s.id = t.student_id)"
        )
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (student_id) "
            "REFERENCES students (id) ON DELETE CASCADE"
        )
