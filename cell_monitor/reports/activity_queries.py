"""Executions and errors per minute from the primary store (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.storage.models import ExecutionMinute
from cell_monitor.storage.report_tables import epoch_minute as epoch_minute_of


async def executions_per_minute(
    engine: AsyncEngine, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """{epoch minute: (executions, errors)} for cell executions in [start, end).

    From the per-minute counts the writer keeps (storage/report_tables.py), so
    a window costs its minutes, not its executions. `start` and `end` are whole
    minutes (activity.window).
    """
    m = ExecutionMinute
    stmt = (
        select(m.minute, func.sum(m.executions), func.sum(m.errors))
        .where(m.minute >= epoch_minute_of(start), m.minute < epoch_minute_of(end))
        .group_by(m.minute)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {int(m): (int(n), int(e or 0)) for m, n, e in rows if n}
