"""Executions and errors per minute from the primary store (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from cell_monitor.storage.models import EXECUTION_OF_EVENT, CellExecution, Event


class epoch_minute(FunctionElement[int]):
    """Whole minutes since 1970-01-01 UTC of a timestamp column, on either backend."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_minute, "postgresql")
def _epoch_minute_pg(element: epoch_minute, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(floor(extract(epoch FROM {column}) / 60) AS BIGINT)"


@compiles(epoch_minute, "sqlite")
def _epoch_minute_sqlite(element: epoch_minute, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as text; strftime('%s') turns them into epoch seconds.
    column = compiler.process(element.clauses, **kw)
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / 60)"


async def executions_per_minute(
    engine: AsyncEngine, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """{epoch minute: (executions, errors)} for cell executions in [start, end)."""
    minute = epoch_minute(Event.event_time)
    errors = func.sum(case((CellExecution.has_error, 1), else_=0))
    # events(event_type, event_time) is indexed: a range scan, then one
    # cell_executions row per event by its unique event_pk.
    stmt = (
        select(minute, func.count(), errors)
        .select_from(Event)
        .join(CellExecution, EXECUTION_OF_EVENT)
        .where(Event.event_type == "cell_executed")
        .where(Event.event_time >= start, Event.event_time < end)
        # The same window on the executions: PostgreSQL then reads only the
        # partitions of these months (it does not carry a range across a join).
        .where(CellExecution.event_time >= start, CellExecution.event_time < end)
        .group_by(minute)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {int(m): (int(n), int(e or 0)) for m, n, e in rows}
