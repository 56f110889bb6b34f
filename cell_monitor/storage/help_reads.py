"""Reading help requests: one student's latest, the open queue, a window for the figures."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.contract.inbox import HelpRequestView, HelpState
from cell_monitor.storage.models import HelpRequest, Student

# A closed request is still shown to the student this long ("Closed by the
# instructor"), then their help part is empty until they ask again.
CLOSED_SHOWN_FOR = timedelta(hours=12)

_WAITING = and_(HelpRequest.closed_at.is_(None), HelpRequest.claimed_at.is_(None))


async def student_help(
    conn: AsyncConnection, student_key: str, now: datetime
) -> HelpRequestView | None:
    """The student's latest request (closed ones for CLOSED_SHOWN_FOR), with its place in line."""
    row = (
        await conn.execute(
            select(*HelpRequest.__table__.columns)
            .join(Student, Student.id == HelpRequest.student_id)
            .where(Student.student_key == student_key)
            # The newest request (rows are created as requests open).
            .order_by(HelpRequest.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    if row.closed_at is not None and now - row.closed_at > CLOSED_SHOWN_FOR:
        return None
    position = None
    # Only those ahead count: a new request at the back changes nobody's place.
    if row.closed_at is None and row.claimed_at is None:
        ahead = select(func.count()).where(
            _WAITING,
            or_(
                HelpRequest.opened_at < row.opened_at,
                and_(HelpRequest.opened_at == row.opened_at, HelpRequest.id < row.id),
            ),
        )
        position = (await conn.execute(ahead)).scalar_one() + 1
    return _view(row, position)


def _view(row: Any, position: int | None) -> HelpRequestView:
    return HelpRequestView(
        id=row.id,
        state=HelpState(row.state),
        opened_at=row.opened_at,
        position=position,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        closed_at=row.closed_at,
        help_request_id=row.ask_id,
    )


async def students_help(
    conn: AsyncConnection, student_keys: Collection[str], now: datetime
) -> dict[str, HelpRequestView | None]:
    """student_help of many students in two queries (a queue change wakes everyone in line)."""
    if not student_keys:
        return {}
    latest = (
        select(HelpRequest.student_id, func.max(HelpRequest.id).label("id"))
        .join(Student, Student.id == HelpRequest.student_id)
        .where(Student.student_key.in_(list(student_keys)))
        .group_by(HelpRequest.student_id)
        .subquery()
    )
    rows = (
        await conn.execute(
            select(*HelpRequest.__table__.columns, Student.student_key)
            .join(latest, latest.c.id == HelpRequest.id)
            .join(Student, Student.id == HelpRequest.student_id)
        )
    ).all()
    line = (
        await conn.execute(
            select(HelpRequest.id).where(_WAITING).order_by(HelpRequest.opened_at, HelpRequest.id)
        )
    ).scalars()
    places = {request_id: place for place, request_id in enumerate(line, start=1)}
    views: dict[str, HelpRequestView | None] = dict.fromkeys(student_keys)
    for row in rows:
        if row.closed_at is not None and now - row.closed_at > CLOSED_SHOWN_FOR:
            continue
        views[row.student_key] = _view(row, places.get(row.id))
    return views


async def open_requests(conn: AsyncConnection) -> Sequence[Any]:
    """Open requests oldest first, with the student's key, name and team."""
    stmt = (
        select(
            HelpRequest.id,
            HelpRequest.state,
            HelpRequest.opened_at,
            HelpRequest.notebook_path,
            HelpRequest.claimed_by,
            HelpRequest.claimed_at,
            Student.student_key,
            Student.user_name,
            Student.team_name,
        )
        .join(Student, Student.id == HelpRequest.student_id)
        .where(HelpRequest.closed_at.is_(None))
        .order_by(HelpRequest.opened_at, HelpRequest.id)
    )
    return (await conn.execute(stmt)).all()


async def waiting_students(conn: AsyncConnection) -> list[str]:
    """Keys of students with an open request (their place in line may change)."""
    stmt = (
        select(Student.student_key)
        .join(HelpRequest, HelpRequest.student_id == Student.id)
        .where(HelpRequest.closed_at.is_(None))
    )
    return list((await conn.execute(stmt)).scalars())


async def requests_between(
    conn: AsyncConnection, since: datetime, until: datetime
) -> Sequence[Any]:
    """Requests opened in [since, until), oldest first: what the wait figures need."""
    stmt = (
        select(
            HelpRequest.id,
            HelpRequest.opened_at,
            HelpRequest.answered_at,
            HelpRequest.closed_at,
            HelpRequest.state,
        )
        .where(HelpRequest.opened_at >= since, HelpRequest.opened_at < until)
        .order_by(HelpRequest.opened_at, HelpRequest.id)
    )
    return (await conn.execute(stmt)).all()
