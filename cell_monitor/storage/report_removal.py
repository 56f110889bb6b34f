"""Taking out of the report tables what erasure and prune remove from the log.

Counters (sharded, see report_tables.py) get the removed part subtracted out of
their existing shard rows; rows of removed students, or whose latest data is
older than the cutoff, are deleted, and so are error groups no student is left
in. Called in the same transaction as the deletes of the log
(privacy/erasure.py, storage/retention.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.storage.models import (
    ErrorGroup,
    ErrorGroupCount,
    ErrorMinute,
    ErrorStudent,
    Event,
    EventTypeCount,
    ExecutionMinute,
    LatestRun,
    NotebookStudent,
    UtcDateTime,
)
from cell_monitor.storage.report_tables import NO_NOTEBOOK, epoch_minute, group_key


async def remove_students(conn: AsyncConnection, ids: Sequence[int]) -> dict[str, int]:
    """Take the students' part out of every report table; call before their events go.

    Counters get the students' contribution subtracted (read from the log and the
    students' own rows); their rows, and groups no student is left in, are deleted.
    """
    if not ids:
        return {}
    by_type = await conn.execute(
        select(Event.event_type, func.count())
        .where(Event.student_id.in_(ids))
        .group_by(Event.event_type)
    )
    await subtract(conn, EventTypeCount, {(t,): [n] for t, n in by_type.all()})
    minute = _minute_sql(conn)
    per_minute = await conn.execute(
        text(
            f"SELECT {minute} AS minute, coalesce(notebook_id, {NO_NOTEBOOK}) AS notebook_id, "
            "count(*) AS n, sum(CASE WHEN has_error THEN 1 ELSE 0 END) AS e "
            "FROM cell_executions WHERE student_id IN :ids GROUP BY 1, 2"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": list(ids)},
    )
    await subtract(
        conn, ExecutionMinute, {(m, nb): [n, int(e)] for m, nb, n, e in per_minute.all()}
    )
    await subtract(conn, ErrorMinute, await _error_minutes_of(conn, ids))
    counts = {
        "latest_runs": await _delete(conn, delete(LatestRun), LatestRun.student_id, ids),
        "notebook_students": await _delete(
            conn, delete(NotebookStudent), NotebookStudent.student_id, ids
        ),
    }
    counts.update(await _remove_error_students(conn, ErrorStudent.student_id.in_(ids)))
    return counts


async def prune_before(conn: AsyncConnection, cutoff: datetime) -> dict[str, int]:
    """Remove the report rows whose latest data is older than `cutoff` (retention)."""
    if conn.dialect.name == "postgresql":
        # Writers hold a student's row for their whole group (writer.py); holding
        # the same rows keeps them from re-adding a pair while it is removed here.
        await conn.execute(
            text(
                "SELECT id FROM students WHERE id IN (SELECT student_id FROM error_students "
                "WHERE last_at < :cutoff) ORDER BY id FOR UPDATE"
            ).bindparams(bindparam("cutoff", type_=UtcDateTime())),
            {"cutoff": cutoff},
        )
    counts = {
        "latest_runs": await _delete(conn, delete(LatestRun), LatestRun.last_at, cutoff, "<"),
        # Exactly when every latest_runs row of the student's in the notebook went.
        "notebook_students": await _delete(
            conn, delete(NotebookStudent), NotebookStudent.last_at, cutoff, "<"
        ),
        "execution_minutes": await _delete(
            conn, delete(ExecutionMinute), ExecutionMinute.minute, epoch_minute(cutoff), "<"
        ),
        "error_minutes": await _delete(
            conn, delete(ErrorMinute), ErrorMinute.minute, epoch_minute(cutoff), "<"
        ),
    }
    counts.update(await _remove_error_students(conn, ErrorStudent.last_at < cutoff))
    return counts


_COUNTERS: dict[Any, tuple[tuple[str, ...], tuple[str, ...]]] = {
    EventTypeCount: (("event_type",), ("events",)),
    ExecutionMinute: (("minute", "notebook_id"), ("executions", "errors")),
    ErrorGroupCount: (("group_id",), ("students", "occurrences")),
    ErrorMinute: (("minute", "group_id"), ("occurrences",)),
}


async def subtract(
    conn: AsyncConnection, model: Any, amounts: dict[tuple[Any, ...], list[int]]
) -> None:
    """Take `amounts` off a sharded counter, key by key, out of its existing shard rows.

    The rows of a key are locked and emptied one after the other (a row at zero
    goes), so what is removed leaves no trace, and a concurrent commit adding to
    the same key waits rather than being overwritten.
    """
    keys, values = _COUNTERS[model]
    table = model.__table__
    for key in sorted(amounts):
        left = list(amounts[key])
        where = and_(*(table.c[k] == v for k, v in zip(keys, key, strict=True)))
        query = select(table.c.shard, *(table.c[v] for v in values)).where(where)
        query = query.order_by(table.c.shard)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = (await conn.execute(query)).all()
        for n, row in enumerate(rows):
            last = n == len(rows) - 1
            new = []
            for i, have in enumerate(row[1:]):
                take = left[i] if last else min(left[i], have)
                left[i] -= take
                new.append(have - take)
            shard = and_(where, table.c.shard == row.shard)
            if any(new):
                await conn.execute(
                    table.update().where(shard).values(dict(zip(values, new, strict=True)))
                )
            else:
                await conn.execute(table.delete().where(shard))


async def _delete(conn: AsyncConnection, stmt: Any, column: Any, value: Any, op: str = "in") -> int:
    where = column.in_(value) if op == "in" else column < value
    return int((await conn.execute(stmt.where(where))).rowcount or 0)


async def _remove_error_students(conn: AsyncConnection, where: Any) -> dict[str, int]:
    removed = (
        await conn.execute(
            select(ErrorStudent.group_id, func.count(), func.sum(ErrorStudent.occurrences))
            .where(where)
            .group_by(ErrorStudent.group_id)
        )
    ).all()
    if not removed:
        return {"error_students": 0, "error_groups": 0}
    rows = int((await conn.execute(delete(ErrorStudent).where(where))).rowcount or 0)
    await subtract(conn, ErrorGroupCount, {(g,): [int(n), int(o)] for g, n, o in removed})
    # A group no student is left in goes (its message came from them).
    touched = [g for g, _, _ in removed]
    left = select(ErrorStudent.group_id).where(ErrorStudent.group_id.in_(touched))
    empty = [g for g in touched if g not in set((await conn.execute(left)).scalars())]
    groups = 0
    if empty:
        await conn.execute(delete(ErrorGroupCount).where(ErrorGroupCount.group_id.in_(empty)))
        await conn.execute(delete(ErrorMinute).where(ErrorMinute.group_id.in_(empty)))
        groups = await _delete(conn, delete(ErrorGroup), ErrorGroup.id, empty)
    return {"error_students": rows, "error_groups": groups}


async def _error_minutes_of(
    conn: AsyncConnection, ids: Sequence[int]
) -> dict[tuple[Any, ...], list[int]]:
    """The students' errors per (minute, group id), from the log."""
    rows = await conn.execute(
        text(
            f"SELECT {_minute_sql(conn)}, notebook_id, cell_index, error_name, error_message, "
            "count(*) FROM cell_executions WHERE has_error AND student_id IN :ids "
            "GROUP BY 1, 2, 3, 4, 5"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": list(ids)},
    )
    keyed = [(m, group_key(nb, cell, name, msg), n) for m, nb, cell, name, msg, n in rows.all()]
    lookup = select(ErrorGroup.group_key, ErrorGroup.id).where(
        ErrorGroup.group_key.in_(bindparam("keys", expanding=True))
    )
    groups = dict((await conn.execute(lookup, {"keys": sorted({k for _, k, _ in keyed})})).all())
    amounts: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0])
    for minute, key, n in keyed:
        if key in groups:
            amounts[(int(minute), groups[key])][0] += int(n)
    return dict(amounts)


def _minute_sql(conn: AsyncConnection, column: str = "event_time") -> str:
    if conn.dialect.name == "postgresql":
        return f"CAST(floor(extract(epoch FROM {column}) / 60) AS BIGINT)"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / 60)"
