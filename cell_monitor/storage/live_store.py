"""Reading live states and applying instructor actions to them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.domain.live_status import LiveState, Thresholds
from cell_monitor.storage import help_rows
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.live_rows import STATE_COLUMNS, state_from_row, state_values
from cell_monitor.storage.models import InstructorAction, Student


async def live_states(
    engine: AsyncEngine, *, team: str | None = None, notebook: str | None = None
) -> list[LiveState]:
    """Every student's live state (optionally one team's or one notebook's)."""
    stmt = select(*STATE_COLUMNS).order_by(Student.student_key)
    if team is not None:
        stmt = stmt.where(Student.team_name == team)
    if notebook is not None:
        stmt = stmt.where(Student.last_notebook == notebook)
    async with engine.connect() as conn:
        return [state_from_row(row) for row in (await conn.execute(stmt)).all()]


async def aged(
    engine: AsyncEngine, after: datetime, until: datetime, thresholds: Thresholds
) -> list[LiveState]:
    """Students whose status may have changed with time alone in (after, until]:
    the end of the active window, the start and the end of quiet, the start of away."""

    def crossed(column: Any, delay: timedelta) -> Any:
        return and_(column > after - delay, column <= until - delay)

    stmt = select(*STATE_COLUMNS).where(
        or_(
            crossed(Student.last_seen, thresholds.active_window),
            and_(
                Student.editing_since.is_not(None),
                or_(
                    crossed(Student.editing_since, thresholds.quiet_after),
                    crossed(Student.last_seen, thresholds.reporting_window),
                ),
            ),
            crossed(Student.hidden_since, thresholds.away_after),
        )
    )
    async with engine.connect() as conn:
        return [state_from_row(row) for row in (await conn.execute(stmt)).all()]


class UnknownStudent(LookupError):
    pass


async def apply_action(
    engine: AsyncEngine,
    student: str,
    action: str,
    change: Callable[[LiveState], LiveState],
    *,
    actor: str | None,
    at: datetime,
) -> tuple[LiveState, LiveState]:
    """Change one student's state under a row lock and record who did it."""
    keys = {student, student.lower()}
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        stmt = select(Student.id, *STATE_COLUMNS).where(Student.student_key.in_(keys))
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        if row is None:
            raise UnknownStudent(student)
        before = state_from_row(row)
        after = change(before)
        await conn.execute(
            update(Student).where(Student.id == row.id).values(**state_values(after))
        )
        await conn.execute(
            insert(InstructorAction).values(student_id=row.id, action=action, actor=actor, at=at)
        )
        await help_rows.record(
            conn, [help_rows.HelpChange(row.id, before, after)], at=at, by=actor or "instructor"
        )
    return before, after
