"""The SQLite write path's own binding stores what SQLAlchemy's processors would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import TypeAdapter
from sqlalchemy.dialects import sqlite

from cell_monitor.storage.bulk import SqliteReader, sqlite_columns
from cell_monitor.storage.models import Event, Student

DIALECT = sqlite.dialect()
PARSED = TypeAdapter(datetime).validate_python("2026-12-01T14:00:00.5Z")  # pydantic's own tz


def _processor(column):  # type: ignore[no-untyped-def]
    kind = column.type.dialect_impl(DIALECT)
    return kind.bind_processor(DIALECT) or (lambda v: v)


def test_values_are_bound_as_sqlalchemy_binds_them() -> None:
    times = [
        datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc),
        datetime(2026, 3, 2, 9, 0, 0, 7, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 2, 9, 0),  # naive: UTC
        PARSED,
        datetime(999, 1, 1, tzinfo=timezone.utc),
        None,
    ]
    rows = [
        {
            "event_time": t,
            "truncated": n % 2 == 0,
            "extra": None if n % 3 else {"kernel": "python3", "n": n},
            "event_id": f"e{n}",
            "student_id": n,
        }
        for n, t in enumerate(times)
    ]
    columns = list(rows[0])
    table = Event.__table__
    expected = [[_processor(table.c[c])(row[c]) for row in rows] for c in columns]
    assert sqlite_columns(table, columns, rows) == expected
    # Again: the second pass answers from the memo of formatted times.
    assert sqlite_columns(table, columns, rows) == expected
    by_column = {c: [row[c] for row in rows] for c in columns}
    assert sqlite_columns(table, columns, by_column) == expected


def test_returned_rows_read_as_sqlalchemy_reads_them() -> None:
    table = Student.__table__
    names = ["id", "last_seen", "last_execution_failed", "visible", "consecutive_errors"]
    stored = [
        (1, "2026-03-02 09:00:00.000007", 1, None, 3),
        (2, "2026-03-02 09:00:00", 0, 1, 0),
        (3, None, 0, 0, 0),
    ]
    readers = [
        table.c[n].type.dialect_impl(DIALECT).result_processor(DIALECT, None) or (lambda v: v)
        for n in names
    ]
    expected = [tuple(read(v) for read, v in zip(readers, row, strict=True)) for row in stored]
    got = SqliteReader(table, names)(stored)
    assert got == expected
    assert [type(v) for v in got[0]] == [type(v) for v in expected[0]]
    assert got[0][1].tzinfo is not None
