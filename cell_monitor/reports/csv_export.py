"""CSV exports of the dashboard's data, streamed row by row from the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.domain.live_status import LiveState, Thresholds
from cell_monitor.downloads import csv_lines
from cell_monitor.storage.live_rows import STATE_COLUMNS, state_from_row
from cell_monitor.storage.models import EXECUTION_OF_EVENT, CellExecution, Event, Notebook, Student

STUDENT_COLUMNS = (
    "student",
    "userName",
    "teamName",
    "status",
    "lastActivity",
    "lastNotebook",
    "lastCellIndex",
    "executions",
    "errors",
    "consecutiveErrors",
    "lastErrorName",
    "lastErrorMessage",
    "helpSince",
)
EXECUTION_COLUMNS = (
    "eventId",
    "eventTime",
    "student",
    "userName",
    "teamName",
    "notebookPath",
    "cellIndex",
    "cellId",
    "executionCount",
    "hasError",
    "errorName",
    "errorMessage",
    "executionDurationMs",
    "code",
)
ROWS_PER_CHUNK = 500


@dataclass(frozen=True)
class ExportFilters:
    team: str | None = None
    notebook: str | None = None
    student: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _student_row(state: LiveState, now: datetime, thresholds: Thresholds) -> list[Any]:
    return [
        state.student,
        state.user_name,
        state.team_name,
        state.status(now, thresholds).value,
        state.last_seen,
        state.last_notebook,
        state.last_cell_index,
        state.execution_count,
        state.error_count,
        state.consecutive_errors,
        state.last_error_name,
        state.last_error_message,
        state.help_since,
    ]


async def students_csv(
    engine: AsyncEngine, filters: ExportFilters, now: datetime, thresholds: Thresholds
) -> AsyncIterator[str]:
    """Every student (of a team, or last in a notebook) with their live state."""
    stmt = select(*STATE_COLUMNS).order_by(Student.student_key)
    if filters.team is not None:
        stmt = stmt.where(Student.team_name == filters.team)
    if filters.notebook is not None:
        stmt = stmt.where(Student.last_notebook == filters.notebook)
    yield csv_lines([STUDENT_COLUMNS])
    async with engine.connect() as conn:
        result = await conn.stream(stmt)
        async for chunk in result.partitions(ROWS_PER_CHUNK):
            states = [state_from_row(row) for row in chunk]
            yield csv_lines([_student_row(s, now, thresholds) for s in states])


def _executions_query(filters: ExportFilters) -> Any:
    ce = CellExecution
    stmt = (
        select(
            Event.event_id,
            ce.event_time,
            Student.student_key,
            Student.user_name,
            Student.team_name,
            Notebook.path,
            ce.cell_index,
            ce.cell_id,
            ce.execution_count,
            ce.has_error,
            ce.error_name,
            ce.error_message,
            ce.duration_ms,
            ce.code,
        )
        .join(Event, EXECUTION_OF_EVENT)  # one partition per lookup on PostgreSQL
        .join(Student, Student.id == ce.student_id)
        .outerjoin(Notebook, Notebook.id == ce.notebook_id)
    )
    if filters.team is not None:
        stmt = stmt.where(Student.team_name == filters.team)
    if filters.notebook is not None:
        notebook_id = select(Notebook.id).where(Notebook.path == filters.notebook)
        stmt = stmt.where(ce.notebook_id == notebook_id.scalar_subquery())
    if filters.student is not None:
        key = {filters.student, filters.student.lower()}
        stmt = stmt.where(Student.student_key.in_(key))
    if filters.since is not None:
        stmt = stmt.where(ce.event_time >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(ce.event_time < filters.until)
    return stmt.order_by(ce.event_time, ce.id)


async def executions_csv(engine: AsyncEngine, filters: ExportFilters) -> AsyncIterator[str]:
    """Cell executions matching `filters`, oldest first."""
    yield csv_lines([EXECUTION_COLUMNS])
    async with engine.connect() as conn:
        result = await conn.stream(_executions_query(filters))
        async for chunk in result.partitions(ROWS_PER_CHUNK):
            yield csv_lines([tuple(row) for row in chunk])
