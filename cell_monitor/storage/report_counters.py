"""The shared counters of a group (report_tables.py) in one PostgreSQL statement.

error_group_counts, execution_minutes, error_minutes and event_type_counts are
four upserts that need nothing from one another: one statement is one round
trip instead of four (a group of a few events, as single events make, spent
more in those round trips than in its rows). Each upsert waits for the one
before it (`WHERE (SELECT count(*) FROM previous) >= 0`), so every transaction
locks the tables in the same order, and the rows in key order within each, as
the four statements did: concurrent commits sharing a shard cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.storage.bulk import json_columns, json_rows_sql, pg_fetch
from cell_monitor.storage.models import (
    Base,
    ErrorGroupCount,
    ErrorMinute,
    EventTypeCount,
    ExecutionMinute,
)

# (table, key columns, added columns), in the order the rows are locked.
_COUNTERS: Sequence[tuple[type[Base], tuple[str, ...], tuple[str, ...]]] = (
    (ErrorGroupCount, ("group_id", "shard"), ("students", "occurrences")),
    (ExecutionMinute, ("minute", "notebook_id", "shard"), ("executions", "errors")),
    (ErrorMinute, ("minute", "group_id", "shard"), ("occurrences",)),
    (EventTypeCount, ("event_type", "shard"), ("events",)),
)


def _statement() -> str:
    parts = []
    first = 1
    previous = None
    for n, (model, keys, added) in enumerate(_COUNTERS):
        columns = [*keys, *added]
        rows = json_rows_sql(model.__table__, columns, first=first)
        name = model.__tablename__
        first += len(columns)
        after = f" WHERE (SELECT count(*) FROM c{previous}) >= 0" if previous is not None else ""
        sums = ", ".join(f"{c} = {name}.{c} + excluded.{c}" for c in added)
        parts.append(
            f"c{n} AS (INSERT INTO {name} ({', '.join(columns)}) "
            f"SELECT * FROM {rows}{after} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sums} RETURNING 1)"
        )
        previous = n
    return f"WITH {', '.join(parts)} SELECT count(*) FROM c{previous}"


_SQL = _statement()


async def add(
    conn: AsyncConnection,
    shard: int,
    group_counts: dict[int, list[int]],
    minutes: dict[tuple[int, int], list[int]],
    error_minutes: dict[tuple[int, int], list[int]],
    types: dict[str, int],
) -> None:
    """Add {group id: [students, occurrences]}, {(minute, notebook id): [executions,
    errors]}, {(minute, group id): [errors]} and {event type: events} to `shard`."""
    rows: list[list[tuple[Any, ...]]] = [
        [(g, shard, *d) for g, d in sorted(group_counts.items())],
        [(m, n, shard, *c) for (m, n), c in sorted(minutes.items())],
        [(m, g, shard, *c) for (m, g), c in sorted(error_minutes.items())],
        [(t, shard, n) for t, n in sorted(types.items())],
    ]
    args: list[str] = []
    for (_, keys, added), table_rows in zip(_COUNTERS, rows, strict=True):
        columns = [*keys, *added]
        cells = [list(c) for c in zip(*table_rows, strict=True)] or [[] for _ in columns]
        args.extend(json_columns(dict(zip(columns, cells, strict=True)), columns))
    await pg_fetch(conn, "insert", _SQL, args)
