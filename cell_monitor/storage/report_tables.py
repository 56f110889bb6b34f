"""The report tables: what the dashboard's views read, kept current by every commit.

A group write (writer.py) adds its stored events here in the same transaction,
so the views cost what they show instead of what the log holds:

- latest_runs: the newest run per (student, notebook, cell): the progress heatmap;
  and the edits and active time the runs carried for their cell (time on task,
  with signal_tables.py);
- notebook_students: when each student last ran a cell of each notebook (the
  newest last_at of their latest_runs rows of it): the notebook list's students
  of a window;
- event_type_counts: events per type (`/api/v1/stats`);
- execution_minutes: executions and errors per minute and notebook (activity
  chart, notebook list);
- error_groups / error_group_counts / error_students: errors per (notebook,
  cell, name, message) and who hit them (hotspots over the whole term);
- error_minutes: errors per minute and group (hotspots over a window, with
  error_students.last_at for who hit a group in it).

Counters that every commit adds to (types, minutes, group counts) are sharded:
a commit adds to the row of its connection's shard, so concurrent commits do
not queue on one row; readers sum the shards. Everything here is additive, so
erasure (privacy/erasure.py) and prune (retention.py) subtract what they remove
(report_removal.py), out of the existing shard rows.

Rows are written in key order within a group, like the writer's other tables,
so concurrent transactions cannot deadlock on them. Revision 0008 creates and
backfills the tables; a test recomputes all of them from the log
(tests/integration/test_report_tables.py).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

from sqlalchemy import bindparam, case, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.domain.records import NewEvent
from cell_monitor.storage import report_counters
from cell_monitor.storage.bulk import driver_executemany, json_columns, json_rows_sql, pg_fetch
from cell_monitor.storage.models import (
    ErrorGroup,
    ErrorGroupCount,
    ErrorMinute,
    ErrorStudent,
    EventTypeCount,
    ExecutionMinute,
    LatestRun,
    NotebookStudent,
)
from cell_monitor.storage.upserts import upsert

SHARDS = 8
# Executions outside a notebook count in execution_minutes under this id.
NO_NOTEBOOK = 0
_SHARD_KEY = "cell_monitor_report_shard"
_next_shard = itertools.count(os.getpid())


def shard_of(conn: AsyncConnection) -> int:
    """This connection's counter shard (kept with the pooled connection)."""
    info = conn.info
    if _SHARD_KEY not in info:
        info[_SHARD_KEY] = next(_next_shard) % SHARDS
    return int(info[_SHARD_KEY])


def epoch_minute(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() // 60)


def group_key(
    notebook_id: int | None, cell_index: int | None, name: str | None, message: str | None
) -> str:
    """The hash naming one hotspot group; revision 0008 computes the same in SQL."""
    parts = ("-" if v is None else f"v{v}" for v in (notebook_id, cell_index, name, message))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _later(a: Any, b: Any) -> Any:
    return case((b > a, b), else_=a)


@dataclass
class SharedRows:
    """What a group adds to the rows every group shares: written last (`add_shared`)."""

    group_counts: dict[int, list[int]] = field(default_factory=dict)
    minutes: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    error_minutes: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    # {notebook id: its latest event time in the group}, for notebooks.last_seen.
    notebooks_seen: dict[int, datetime] = field(default_factory=dict)


async def record(
    conn: AsyncConnection,
    events: Sequence[NewEvent],
    student_ids: dict[str, int],
    notebook_ids: dict[str, int],
) -> SharedRows:
    """Add the newly stored `events` (their pk set) of a group to the report tables
    keyed by student; returns what they add to the shared rows, for `add_shared`."""
    if not events:
        return SharedRows()
    executions = [
        (e, student_ids[e.student_key], notebook_ids.get(e.notebook_path or ""))
        for e in events
        if e.is_execution
    ]
    shared = SharedRows(
        minutes=_minute_counts(executions),
        types=Counter(map(attrgetter("event_type"), events)),
        notebooks_seen=_notebooks_seen(events, notebook_ids),
    )
    if executions:
        await _record_latest_runs(conn, executions)
        errors = [x for x in executions if x[0].has_error]
        shared.error_minutes, shared.group_counts = await _record_errors(conn, errors)
    return shared


async def add_shared(conn: AsyncConnection, shared: SharedRows) -> None:
    """Add a group's `shared` rows: its transaction's last statement, since these
    rows are locked from here to COMMIT and every other group waits for them."""
    if shared.types:  # some event was stored
        await _add_counters(conn, shard_of(conn), shared)


def _notebooks_seen(
    events: Sequence[NewEvent], notebook_ids: dict[str, int]
) -> dict[int, datetime]:
    latest: dict[int, datetime] = {}
    for event in events:
        if event.notebook_path is not None:
            pk = notebook_ids[event.notebook_path]
            at = latest.get(pk)
            if at is None or event.event_time > at:
                latest[pk] = event.event_time
    return latest


async def _add_counters(conn: AsyncConnection, shard: int, shared: SharedRows) -> None:
    if conn.dialect.name == "postgresql":
        await report_counters.add(
            conn,
            shard,
            shared.group_counts,
            shared.minutes,
            shared.error_minutes,
            shared.types,
            shared.notebooks_seen,
        )
        return
    # SQLite: one writer at a time, and the notebooks' upsert (bulk.py) already
    # advanced their last_seen.
    await _add_group_counts(conn, shared.group_counts, shard)
    await add_minutes(conn, shared.minutes, shard)
    await add_error_minutes(conn, shared.error_minutes, shard)
    await add_types(conn, shared.types, shard)


Execution = tuple[NewEvent, int, int | None]


async def _record_latest_runs(conn: AsyncConnection, executions: Sequence[Execution]) -> None:
    # Per (student, notebook, cell), in the order of _LATEST_COLUMNS after the key:
    # last_at, last_event_pk, failed, error_name, error_message, runs, edits,
    # active_ms, first_at. A list per row, columns built once: no dict per run.
    rows: dict[tuple[int, int, int], list[Any]] = {}
    for event, student_id, notebook_id in executions:
        if notebook_id is None or event.cell_index is None:
            continue  # the heatmap places a run by notebook and cell
        key = (student_id, notebook_id, event.cell_index)
        at, pk = event.event_time, event.pk
        edits, active_ms = event.run_activity
        row = rows.get(key)
        if row is None:
            rows[key] = [at, pk, *_outcome(event), 1, edits, active_ms, at]
            continue
        row[5] += 1
        row[6] += edits
        row[7] += active_ms
        if at < row[8]:
            row[8] = at
        # Newest by (event_time, pk): a late event adds to the count only.
        if (at, pk) > (row[0], row[1]):
            row[0:5] = [at, pk, *_outcome(event)]
    if not rows:
        return
    keys = sorted(rows)
    values = dict(zip(_LATEST_COLUMNS[:3], map(list, zip(*keys, strict=True)), strict=True))
    ordered = [rows[k] for k in keys]
    values.update(zip(_LATEST_COLUMNS[3:], map(list, zip(*ordered, strict=True)), strict=True))
    # The newest run of each (student, notebook), in key order as the rows above.
    seen: dict[tuple[int, int], datetime] = {}
    for (student_id, notebook_id, _), row in zip(keys, ordered, strict=True):
        pair = (student_id, notebook_id)
        newest = seen.get(pair)
        if newest is None or row[0] > newest:
            seen[pair] = row[0]
    last_runs: dict[str, list[Any]] = {
        "student_id": [pair[0] for pair in seen],
        "notebook_id": [pair[1] for pair in seen],
        "last_at": list(seen.values()),
    }
    if conn.dialect.name == "postgresql":
        # One statement text whatever the row count, a JSON text per column (bulk.py).
        await pg_fetch(conn, "insert", _PG_LATEST_RUNS, json_columns(values, _LATEST_COLUMNS))
        await pg_fetch(
            conn, "insert", _PG_NOTEBOOK_STUDENTS, json_columns(last_runs, _NOTEBOOK_STUDENTS)
        )
        return
    await driver_executemany(
        conn, "insert", _SQLITE_LATEST_RUNS, LatestRun.__table__, _LATEST_COLUMNS, values
    )
    await driver_executemany(
        conn,
        "insert",
        _SQLITE_NOTEBOOK_STUDENTS,
        NotebookStudent.__table__,
        _NOTEBOOK_STUDENTS,
        last_runs,
    )


def _outcome(event: NewEvent) -> tuple[bool, str | None, str | None]:
    if event.has_error:
        return True, event.error_name, event.error_message
    return False, None, None


_LATEST = ("last_at", "last_event_pk", "failed", "error_name", "error_message")
# Every run adds to these: its count, and the edits and active time it carried.
_SUMS = ("runs", "edits", "active_ms")
_LATEST_COLUMNS = ["student_id", "notebook_id", "cell_index", *_LATEST, *_SUMS, "first_at"]
_NEWER = (
    "(excluded.last_at, excluded.last_event_pk) > (latest_runs.last_at, latest_runs.last_event_pk)"
)
# Newest by (event_time, pk): a late event adds to the count but does not
# replace a newer run. SQLite's two-argument min() is its LEAST.
_LATEST_UPDATE = (
    "ON CONFLICT (student_id, notebook_id, cell_index) DO UPDATE SET "
    + ", ".join(
        f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE latest_runs.{c} END" for c in _LATEST
    )
    + "".join(f", {c} = latest_runs.{c} + excluded.{c}" for c in _SUMS)
    + ", first_at = {least}(latest_runs.first_at, excluded.first_at)"
)
_PG_LATEST_RUNS = (
    f"INSERT INTO latest_runs ({', '.join(_LATEST_COLUMNS)}) "
    f"SELECT * FROM {json_rows_sql(LatestRun.__table__, _LATEST_COLUMNS)} "
    + _LATEST_UPDATE.format(least="least")
)
_SQLITE_LATEST_RUNS = (
    f"INSERT INTO latest_runs ({', '.join(_LATEST_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _LATEST_COLUMNS)}) " + _LATEST_UPDATE.format(least="min")
)


_NOTEBOOK_STUDENTS = ["student_id", "notebook_id", "last_at"]
# Only a newer run changes the row: a late event writes no new version of it.
_NOTEBOOK_STUDENTS_UPDATE = (
    "ON CONFLICT (student_id, notebook_id) DO UPDATE SET last_at = excluded.last_at "
    "WHERE excluded.last_at > notebook_students.last_at"
)
_PG_NOTEBOOK_STUDENTS = (
    f"INSERT INTO notebook_students ({', '.join(_NOTEBOOK_STUDENTS)}) "
    f"SELECT * FROM {json_rows_sql(NotebookStudent.__table__, _NOTEBOOK_STUDENTS)} "
    + _NOTEBOOK_STUDENTS_UPDATE
)
_SQLITE_NOTEBOOK_STUDENTS = (
    f"INSERT INTO notebook_students ({', '.join(_NOTEBOOK_STUDENTS)}) "
    "VALUES (?, ?, ?) " + _NOTEBOOK_STUDENTS_UPDATE
)


async def _record_errors(
    conn: AsyncConnection, errors: Sequence[Execution]
) -> tuple[dict[tuple[int, int], list[int]], dict[int, list[int]]]:
    """Add the errors to their groups and students; returns what they add to the
    counters: {(minute, group id): [errors]}, {group id: [students, occurrences]}."""
    if not errors:
        return {}, {}
    groups: dict[str, tuple[int | None, int | None, str | None, str | None]] = {}
    per_student: dict[tuple[str, int], list[Any]] = {}
    per_minute: dict[tuple[int, str], int] = defaultdict(int)
    keys: dict[tuple[int | None, int | None, str | None, str | None], str] = {}
    for event, student_id, notebook_id in errors:
        parts = (notebook_id, event.cell_index, event.error_name, event.error_message)
        key = keys.get(parts)
        if key is None:  # one hash per group, however many of its errors
            key = keys[parts] = group_key(*parts)
            groups[key] = parts
        entry = per_student.setdefault((key, student_id), [0, event.event_time])
        entry[0] += 1
        entry[1] = max(entry[1], event.event_time)
        per_minute[(epoch_minute(event.event_time), key)] += 1
    ids = await _group_ids(conn, groups)
    pairs = sorted(
        (ids[key], student, count, last) for (key, student), (count, last) in per_student.items()
    )
    new_pairs = await _upsert_error_students(conn, pairs)
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for group, student, count, _ in pairs:
        deltas[group][0] += (group, student) in new_pairs
        deltas[group][1] += count
    minutes = {(minute, ids[key]): [n] for (minute, key), n in per_minute.items()}
    return minutes, dict(deltas)


_PAIR_COLUMNS = ["group_id", "student_id", "occurrences", "last_at"]
_PG_ERROR_STUDENTS = (
    f"INSERT INTO error_students ({', '.join(_PAIR_COLUMNS)}) "
    f"SELECT * FROM {json_rows_sql(ErrorStudent.__table__, _PAIR_COLUMNS)} "
    "ON CONFLICT (group_id, student_id) DO UPDATE SET "
    "occurrences = error_students.occurrences + excluded.occurrences, "
    "last_at = greatest(error_students.last_at, excluded.last_at) "
    # xmax is 0 on a row this statement inserted, not on one it updated.
    "RETURNING group_id, student_id, (xmax = 0) AS inserted"
)

_SQLITE_ERROR_STUDENTS = (
    f"INSERT INTO error_students ({', '.join(_PAIR_COLUMNS)}) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (group_id, student_id) DO UPDATE SET "
    "occurrences = error_students.occurrences + excluded.occurrences, "
    "last_at = max(error_students.last_at, excluded.last_at)"
)


async def _upsert_error_students(
    conn: AsyncConnection, pairs: Sequence[tuple[int, int, int, datetime]]
) -> set[tuple[int, int]]:
    """Add (group, student, errors, latest) rows; returns the pairs that are new."""
    if conn.dialect.name == "postgresql":
        columns = dict(zip(_PAIR_COLUMNS, map(list, zip(*pairs, strict=True)), strict=True))
        records = await pg_fetch(
            conn, "insert", _PG_ERROR_STUDENTS, json_columns(columns, _PAIR_COLUMNS)
        )
        return {(r["group_id"], r["student_id"]) for r in records if r["inserted"]}
    # SQLite: one writer at a time (BEGIN IMMEDIATE), so what exists now stays true.
    known = await conn.execute(
        select(ErrorStudent.group_id, ErrorStudent.student_id).where(
            ErrorStudent.student_id.in_(sorted({s for _, s, _, _ in pairs})),
            ErrorStudent.group_id.in_(sorted({g for g, _, _, _ in pairs})),
        )
    )
    existing = {(g, s) for g, s in known.all()}
    rows = [
        {"group_id": g, "student_id": s, "occurrences": n, "last_at": last}
        for g, s, n, last in pairs
    ]
    await driver_executemany(
        conn, "insert", _SQLITE_ERROR_STUDENTS, ErrorStudent.__table__, _PAIR_COLUMNS, rows
    )
    return {(g, s) for g, s, _, _ in pairs if (g, s) not in existing}


_GROUP_LOOKUP = select(ErrorGroup.group_key, ErrorGroup.id).where(
    ErrorGroup.group_key.in_(bindparam("keys", expanding=True))
)
# One statement text whatever the number of keys, so PostgreSQL prepares and plans
# it once per connection (an expanded IN list is a new statement for each length).
_PG_GROUP_LOOKUP = "SELECT group_key, id FROM error_groups WHERE group_key = ANY($1::text[])"


async def _lookup_groups(conn: AsyncConnection, keys: list[str]) -> dict[str, int]:
    if conn.dialect.name == "postgresql":
        records = await pg_fetch(conn, "select", _PG_GROUP_LOOKUP, [keys])
        return {record[0]: record[1] for record in records}
    return dict((await conn.execute(_GROUP_LOOKUP, {"keys": keys})).all())


async def _group_ids(
    conn: AsyncConnection, groups: dict[str, tuple[int | None, int | None, str | None, str | None]]
) -> dict[str, int]:
    ids = await _lookup_groups(conn, sorted(groups))
    missing = sorted(set(groups) - set(ids))
    if missing:
        # DO NOTHING, not an update: an existing group row is never locked here.
        rows = [
            {
                "group_key": key,
                "notebook_id": groups[key][0],
                "cell_index": groups[key][1],
                "error_name": groups[key][2],
                "error_message": groups[key][3],
            }
            for key in missing
        ]
        await conn.execute(upsert(conn, _new_groups), rows)
        ids.update(await _lookup_groups(conn, missing))
    return ids


async def _add_group_counts(
    conn: AsyncConnection, deltas: dict[int, list[int]], shard: int
) -> None:
    if not deltas:
        return
    await conn.execute(
        upsert(conn, _group_counts),
        [
            {"group_id": g, "shard": shard, "students": d[0], "occurrences": d[1]}
            for g, d in sorted(deltas.items())
        ],
    )


def _minute_counts(executions: Sequence[Execution]) -> dict[tuple[int, int], list[int]]:
    counts: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for event, _, notebook_id in executions:
        entry = counts[(epoch_minute(event.event_time), notebook_id or NO_NOTEBOOK)]
        entry[0] += 1
        entry[1] += bool(event.has_error)
    return counts


async def add_minutes(
    conn: AsyncConnection, counts: dict[tuple[int, int], list[int]], shard: int
) -> None:
    """Add {(minute, notebook id): [executions, errors]} (negative to subtract)."""
    if not counts:
        return
    rows = [
        {"minute": m, "notebook_id": n, "shard": shard, "executions": c[0], "errors": c[1]}
        for (m, n), c in sorted(counts.items())
    ]
    await conn.execute(upsert(conn, _minutes), rows)


async def add_error_minutes(
    conn: AsyncConnection, counts: dict[tuple[int, int], list[int]], shard: int
) -> None:
    """Add {(minute, group id): [errors]} (negative to subtract)."""
    if not counts:
        return
    rows = [
        {"minute": m, "group_id": g, "shard": shard, "occurrences": c[0]}
        for (m, g), c in sorted(counts.items())
    ]
    await conn.execute(upsert(conn, _error_minutes), rows)


async def add_types(conn: AsyncConnection, counts: dict[str, int], shard: int) -> None:
    """Add {event type: count} (negative to subtract)."""
    if not counts:
        return
    rows = [{"event_type": t, "shard": shard, "events": n} for t, n in sorted(counts.items())]
    await conn.execute(upsert(conn, _types), rows)


# The statements above, built once per database (storage/upserts.py).
def _new_groups(insert: Any) -> Any:
    # DO NOTHING, not an update: an existing group row is never locked here.
    return insert(ErrorGroup).on_conflict_do_nothing(index_elements=[ErrorGroup.group_key])


def _group_counts(insert: Any) -> Any:
    stmt = insert(ErrorGroupCount)
    new, old = stmt.excluded, ErrorGroupCount.__table__.c
    return stmt.on_conflict_do_update(
        index_elements=[ErrorGroupCount.group_id, ErrorGroupCount.shard],
        set_={
            "students": old.students + new.students,
            "occurrences": old.occurrences + new.occurrences,
        },
    )


def _minutes(insert: Any) -> Any:
    stmt = insert(ExecutionMinute)
    new, old = stmt.excluded, ExecutionMinute.__table__.c
    return stmt.on_conflict_do_update(
        index_elements=[ExecutionMinute.minute, ExecutionMinute.notebook_id, ExecutionMinute.shard],
        set_={"executions": old.executions + new.executions, "errors": old.errors + new.errors},
    )


def _error_minutes(insert: Any) -> Any:
    stmt = insert(ErrorMinute)
    return stmt.on_conflict_do_update(
        index_elements=[ErrorMinute.minute, ErrorMinute.group_id, ErrorMinute.shard],
        set_={"occurrences": ErrorMinute.__table__.c.occurrences + stmt.excluded.occurrences},
    )


def _types(insert: Any) -> Any:
    stmt = insert(EventTypeCount)
    return stmt.on_conflict_do_update(
        index_elements=[EventTypeCount.event_type, EventTypeCount.shard],
        set_={"events": EventTypeCount.__table__.c.events + stmt.excluded.events},
    )
