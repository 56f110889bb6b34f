"""The event log as sinks read it: rows after a position, and saved positions.

Sinks follow `events.id`. Reading by id is one index range scan however long
the log is; how a sink copes with ids that commit out of order is its business
(see cell_monitor/sinks/log_cursor.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import (
    EXECUTION_OF_EVENT,
    CellExecution,
    Event,
    Notebook,
    SinkPosition,
    Student,
)


@dataclass(frozen=True, slots=True)
class LogRow:
    """One committed event with what a time-series point needs of it."""

    pk: int
    event_id: str
    event_type: str
    event_time: datetime
    student_key: str
    notebook: str | None
    duration_ms: float | None
    has_error: bool | None
    cell_index: int | None
    execution_count: int | None
    error_name: str | None


_COLUMNS: tuple[Any, ...] = (
    Event.id,
    Event.event_id,
    Event.event_type,
    Event.event_time,
    Student.student_key,
    Notebook.path,
    CellExecution.duration_ms,
    CellExecution.has_error,
    CellExecution.cell_index,
    CellExecution.execution_count,
    CellExecution.error_name,
)


def _rows() -> Select[Any]:
    return (
        select(*_COLUMNS)
        .join(Student, Student.id == Event.student_id)
        .outerjoin(Notebook, Notebook.id == Event.notebook_id)
        .outerjoin(CellExecution, EXECUTION_OF_EVENT)
    )


async def _fetch(engine: AsyncEngine, stmt: Select[Any]) -> list[LogRow]:
    async with engine.connect() as conn:
        return [LogRow(*row) for row in (await conn.execute(stmt)).all()]


async def read_after(engine: AsyncEngine, after_pk: int, limit: int) -> list[LogRow]:
    """Up to `limit` committed events with id > after_pk, in id order."""
    stmt = _rows().where(Event.id > after_pk).order_by(Event.id).limit(limit)
    return await _fetch(engine, stmt)


async def read_ranges(
    engine: AsyncEngine, ranges: Sequence[tuple[int, int]], limit: int
) -> list[LogRow]:
    """Committed events whose id lies in one of the inclusive `ranges`, in id order."""
    if not ranges:
        return []
    condition = or_(*(and_(Event.id >= lo, Event.id <= hi) for lo, hi in ranges))
    stmt = _rows().where(condition).order_by(Event.id).limit(limit)
    return await _fetch(engine, stmt)


async def backlog(engine: AsyncEngine, after_pk: int, cap: int) -> tuple[int, datetime | None]:
    """How many events (at most `cap`) lie after `after_pk`, and when the first arrived."""
    ids = select(Event.id).where(Event.id > after_pk).order_by(Event.id).limit(cap).subquery()
    first = select(Event.received_at).where(Event.id > after_pk).order_by(Event.id).limit(1)
    async with engine.connect() as conn:
        count = int((await conn.execute(select(func.count()).select_from(ids))).scalar_one())
        received = (await conn.execute(first)).scalar_one_or_none()
    return count, received


async def load_position(engine: AsyncEngine, name: str) -> int:
    """The saved position of sink `name`, creating it at 0 (the log's start)."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(SinkPosition)
        .values(name=name, last_event_pk=0, updated_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing(index_elements=[SinkPosition.name])
    )
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        await conn.execute(stmt)
        query = select(SinkPosition.last_event_pk).where(SinkPosition.name == name)
        return int((await conn.execute(query)).scalar_one())


async def save_position(engine: AsyncEngine, name: str, last_event_pk: int) -> None:
    stmt = (
        update(SinkPosition)
        .where(SinkPosition.name == name)
        .values(last_event_pk=last_event_pk, updated_at=datetime.now(timezone.utc))
    )
    # SQLite: take the write lock at BEGIN like the committer, so this tiny
    # transaction queues behind a group commit instead of failing as locked.
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        await conn.execute(stmt)
