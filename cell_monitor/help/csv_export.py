"""CSV exports of help requests: one row per request, and the figures per class session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.contract.inbox import HelpStats
from cell_monitor.domain.help_waits import RequestTimes, wait_seconds
from cell_monitor.downloads import csv_lines
from cell_monitor.storage.models import HelpRequest, Student

REQUEST_COLUMNS = (
    "requestId",
    "student",
    "userName",
    "teamName",
    "notebookPath",
    "state",
    "openedAt",
    "claimedBy",
    "claimedAt",
    "answeredAt",
    "closedAt",
    "closedBy",
    "waitSeconds",
)
SESSION_COLUMNS = (
    "sessionStart",
    "sessionEnd",
    "requests",
    "answered",
    "open",
    "medianWaitSeconds",
    "longestWaitSeconds",
)
ROWS_PER_CHUNK = 500


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _row(r: Any, now: datetime) -> list[Any]:
    wait = wait_seconds(RequestTimes(r.opened_at, r.answered_at, r.closed_at), now)
    return [
        r.id,
        r.student_key,
        r.user_name,
        r.team_name,
        r.notebook_path,
        r.state,
        r.opened_at,
        r.claimed_by,
        r.claimed_at,
        r.answered_at,
        r.closed_at,
        r.closed_by,
        _seconds(wait),
    ]


async def requests_csv(
    engine: AsyncEngine, since: datetime, until: datetime, now: datetime
) -> AsyncIterator[str]:
    """Help requests asked in [since, until), oldest first, with each one's wait."""
    stmt = (
        select(
            *HelpRequest.__table__.columns,
            Student.student_key,
            Student.user_name,
            Student.team_name,
        )
        .join(Student, Student.id == HelpRequest.student_id)
        .where(HelpRequest.opened_at >= since, HelpRequest.opened_at < until)
        .order_by(HelpRequest.opened_at, HelpRequest.id)
    )
    yield csv_lines([REQUEST_COLUMNS])
    async with engine.connect() as conn:
        result = await conn.stream(stmt)
        async for chunk in result.partitions(ROWS_PER_CHUNK):
            yield csv_lines([_row(r, now) for r in chunk])


def sessions_csv(stats: HelpStats) -> str:
    """The wait figures of each class session, newest first."""
    rows: list[list[Any]] = [list(SESSION_COLUMNS)]
    for s in stats.sessions:
        rows.append(
            [
                s.started_at,
                s.ended_at,
                s.requests,
                s.answered,
                s.open,
                _seconds(s.median_wait_seconds),
                _seconds(s.longest_wait_seconds),
            ]
        )
    return csv_lines(rows)


DEFAULT_WINDOW = timedelta(days=14)
