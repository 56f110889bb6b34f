"""Read queries behind the API and the dashboard, shaped to use the indexes."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.contract.reads import EventOut, EventPage, StatsOut, StudentList, StudentOut
from cell_monitor.storage.models import (
    DENSE_EVENT_TYPE,
    EXECUTION_OF_EVENT,
    NOT_DENSE_EVENT_TYPE,
    CellExecution,
    Event,
    EventTypeCount,
    LearningSession,
    Notebook,
    Student,
)


@dataclass(frozen=True)
class EventFilters:
    student: str | None = None
    notebook: str | None = None
    event_types: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None


Cursor = tuple[datetime, int]


def encode_cursor(position: Cursor) -> str:
    raw = json.dumps([position[0].isoformat(), position[1]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, pk = json.loads(base64.urlsafe_b64decode(padded))
        return _utc(datetime.fromisoformat(when)), int(pk)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("not a cursor returned by this API") from exc


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _student_id(key: str) -> Any:
    # Students are keyed by their lower-cased email, else their userId.
    keys = {key, key.lower()}
    return select(Student.id).where(Student.student_key.in_(keys)).scalar_subquery()


_EVENT_COLUMNS = (
    Event.id,
    Event.event_id,
    Event.event_type,
    Event.event_time,
    Event.received_at,
    Event.truncated,
    Event.extra,
    Student.student_key,
    Student.email_address,
    Student.user_id,
    Student.user_name,
    Student.team_name,
    Notebook.path,
    LearningSession.session_key,
    CellExecution.cell_id,
    CellExecution.cell_index,
    CellExecution.cell_type,
    CellExecution.code,
    CellExecution.execution_count,
    CellExecution.has_error,
    CellExecution.error_name,
    CellExecution.error_message,
    CellExecution.traceback,
    CellExecution.result,
    CellExecution.duration_ms,
)


def _events_query(filters: EventFilters) -> Select[Any]:
    stmt = (
        select(*_EVENT_COLUMNS)
        .join(Student, Student.id == Event.student_id)
        .outerjoin(Notebook, Notebook.id == Event.notebook_id)
        .outerjoin(LearningSession, LearningSession.id == Event.session_id)
        .outerjoin(CellExecution, EXECUTION_OF_EVENT)
    )
    if filters.student:
        stmt = stmt.where(Event.student_id == _student_id(filters.student))
    if filters.notebook:
        notebook_id = select(Notebook.id).where(Notebook.path == filters.notebook)
        stmt = stmt.where(Event.notebook_id == notebook_id.scalar_subquery())
    if filters.event_types:
        types = {t.lower() for t in filters.event_types}
        stmt = stmt.where(Event.event_type.in_(sorted(types)))
        if DENSE_EVENT_TYPE not in types:
            # The partial index's own condition: SQLite uses the index only when the
            # query states it (PostgreSQL infers it from the list).
            stmt = stmt.where(NOT_DENSE_EVENT_TYPE)
    if filters.since:
        stmt = stmt.where(Event.event_time >= _utc(filters.since))
    if filters.until:
        stmt = stmt.where(Event.event_time < _utc(filters.until))
    return stmt


async def list_events(
    engine: AsyncEngine, filters: EventFilters, *, limit: int, after: Cursor | None = None
) -> EventPage:
    """One page of events, newest first; `after` continues from a previous page."""
    stmt = _events_query(filters)
    if after is not None:
        stmt = stmt.where(tuple_(Event.event_time, Event.id) < tuple_(*after))
    stmt = stmt.order_by(Event.event_time.desc(), Event.id.desc()).limit(limit + 1)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    items = [_event_out(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor((last.event_time, last.id))
    return EventPage(items=items, next_cursor=next_cursor)


def _event_out(row: Any) -> EventOut:
    return EventOut(
        event_id=row.event_id,
        event_type=row.event_type,
        event_time=row.event_time,
        received_at=row.received_at,
        student=row.student_key,
        email_address=row.email_address,
        user_id=row.user_id,
        user_name=row.user_name,
        team_name=row.team_name,
        session_id=row.session_key,
        notebook_path=row.path,
        cell_id=row.cell_id,
        cell_index=row.cell_index,
        cell_type=row.cell_type,
        code=row.code,
        execution_count=row.execution_count,
        has_error=row.has_error,
        error_name=row.error_name,
        error_message=row.error_message,
        traceback=row.traceback,
        result=row.result,
        execution_duration_ms=row.duration_ms,
        truncated=row.truncated,
        metadata=row.extra,
    )


async def list_students(engine: AsyncEngine, team: str | None = None) -> StudentList:
    """Every student, most recently active first."""
    stmt = select(Student).order_by(Student.last_seen.desc(), Student.id)
    if team is not None:
        stmt = stmt.where(Student.team_name == team)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return StudentList(
        items=[
            StudentOut(
                student=r.student_key,
                email_address=r.email_address,
                user_id=r.user_id,
                user_name=r.user_name,
                team_name=r.team_name,
                first_seen=r.first_seen,
                last_activity=r.last_seen,
                events=r.event_count,
                executions=r.execution_count,
                errors=r.error_count,
            )
            for r in rows
        ]
    )


async def stats(engine: AsyncEngine) -> StatsOut:
    """Totals; kept counters make these independent of the log's size.

    Like the students' counters, the counts per type include pruned events and
    drop with an erased student's (storage/retention.py, privacy/erasure.py).
    """
    totals = select(
        func.count(Student.id),
        func.coalesce(func.sum(Student.event_count), 0),
        func.coalesce(func.sum(Student.execution_count), 0),
        func.coalesce(func.sum(Student.error_count), 0),
    )
    # Per-type counts are kept by the writer (storage/report_tables.py), in shards.
    total = func.sum(EventTypeCount.events)
    by_type = select(EventTypeCount.event_type, total).group_by(EventTypeCount.event_type)
    by_type = by_type.having(total > 0)
    # Two statements: SQLite answers a lone min() or max() from the index on
    # event_time, but scans the whole log for both in one SELECT.
    first_time = select(func.min(Event.event_time))
    last_time = select(func.max(Event.event_time))
    async with engine.connect() as conn:
        students, events, executions, errors = (await conn.execute(totals)).one()
        notebooks = (await conn.execute(select(func.count(Notebook.id)))).scalar_one()
        sessions = (await conn.execute(select(func.count(LearningSession.id)))).scalar_one()
        types = {name: int(count) for name, count in (await conn.execute(by_type)).all()}
        first = (await conn.execute(first_time)).scalar()
        last = (await conn.execute(last_time)).scalar()
    return StatsOut(
        events=int(events),
        students=students,
        notebooks=notebooks,
        sessions=sessions,
        executions=int(executions),
        errors=int(errors),
        events_by_type=types,
        first_event=_as_utc(first),
        last_event=_as_utc(last),
    )


def _as_utc(value: Any) -> datetime | None:
    # min()/max() over a TypeDecorator column come back through it on PostgreSQL,
    # as plain strings on SQLite.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _utc(value)
