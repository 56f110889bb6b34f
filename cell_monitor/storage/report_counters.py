"""The rows every group shares (report_tables.py), in one PostgreSQL statement.

error_group_counts, execution_minutes, error_minutes and event_type_counts are
four upserts, and the notebooks' last_seen one update, that need nothing from
one another: one statement is one round trip instead of five (a group of a few
events, as single events make, spent more in those round trips than in its
rows). Each part waits for the one before it (`WHERE (SELECT count(*) FROM
previous) >= 0`), so every transaction locks the tables in the same order, and
the rows in key order within each, as separate statements did: concurrent
commits sharing a shard or a notebook cannot deadlock. The statement is a
group's last, so these rows are held from there to COMMIT only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.storage.bulk import json_columns, json_rows_sql, pg_fetch
from cell_monitor.storage.models import (
    Base,
    ErrorGroupCount,
    ErrorMinute,
    EventTypeCount,
    ExecutionMinute,
    Notebook,
)

# (table, key columns, added columns), in the order the rows are locked.
_COUNTERS: Sequence[tuple[type[Base], tuple[str, ...], tuple[str, ...]]] = (
    (ErrorGroupCount, ("group_id", "shard"), ("students", "occurrences")),
    (ExecutionMinute, ("minute", "notebook_id", "shard"), ("executions", "errors")),
    (ErrorMinute, ("minute", "group_id", "shard"), ("occurrences",)),
    (EventTypeCount, ("event_type", "shard"), ("events",)),
)


_NOTEBOOK_COLUMNS = ("id", "last_seen")


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
    # The notebooks last: every group of every lane and worker writes the same few rows.
    seen = json_rows_sql(Notebook.__table__, _NOTEBOOK_COLUMNS, first=first)
    parts.append(
        f"seen AS (UPDATE notebooks AS n SET last_seen = u.last_seen FROM {seen} "
        f"WHERE n.id = u.id AND n.last_seen < u.last_seen "
        f"AND (SELECT count(*) FROM c{previous}) >= 0 RETURNING 1)"
    )
    return f"WITH {', '.join(parts)} SELECT count(*) FROM seen"


_SQL = _statement()


async def add(
    conn: AsyncConnection,
    shard: int,
    group_counts: dict[int, list[int]],
    minutes: dict[tuple[int, int], list[int]],
    error_minutes: dict[tuple[int, int], list[int]],
    types: dict[str, int],
    notebooks_seen: dict[int, datetime],
) -> None:
    """Add {group id: [students, occurrences]}, {(minute, notebook id): [executions,
    errors]}, {(minute, group id): [errors]} and {event type: events} to `shard`, and
    advance the notebooks' last_seen to {notebook id: latest event time}."""
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
    ids = sorted(notebooks_seen)
    seen: dict[str, list[Any]] = {"id": ids, "last_seen": [notebooks_seen[pk] for pk in ids]}
    args.extend(json_columns(seen, _NOTEBOOK_COLUMNS))
    await pg_fetch(conn, "insert", _SQL, args)
