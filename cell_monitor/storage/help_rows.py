"""help_requests kept in step with the help part of the students' live state.

Every change of a student's help state (an event's commit, an instructor's
action) passes through `record`, inside the same transaction: a request row
opens when help_since is set, follows its claim, and closes with the outcome
when help_since is cleared. The live state says what is true now; the rows
keep each request's history for the student's view, the queue's order and the
wait figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.contract.inbox import HelpState
from cell_monitor.domain.live_status import LiveState
from cell_monitor.storage.models import HelpRequest

STUDENT = "student"  # closed_by of a request the student ended


@dataclass(frozen=True)
class HelpChange:
    """One student's help state before and after, with their row id."""

    student_id: int
    before: LiveState | None
    after: LiveState


def help_changed(before: LiveState | None, after: LiveState) -> bool:
    """Whether the change touches what the student's help view or the queue shows."""
    was = (None, None) if before is None else (before.help_since, before.help_claimed_by)
    return was != (after.help_since, after.help_claimed_by)


async def record(
    conn: AsyncConnection,
    changes: Sequence[HelpChange],
    *,
    at: datetime | None = None,
    by: str | None = None,
) -> bool:
    """Apply help transitions to help_requests; True when any request changed.

    `at`/`by`: the time and account of an instructor's action; None for
    changes made by the student's own events (their times are used).
    """
    touched = False
    for change in sorted(changes, key=lambda c: c.student_id):
        before, after = change.before, change.after
        if not help_changed(before, after):
            continue
        touched = True
        was_open = before is not None and before.help_since is not None
        if was_open and after.help_since is None:
            await _close(conn, change, at, by)
        elif after.help_since is not None and not was_open:
            await _open(conn, change)
        elif after.help_since is not None:
            await _claim(conn, change, at)
    return touched


async def _open(conn: AsyncConnection, change: HelpChange) -> None:
    state = change.after
    assert state.help_since is not None
    await conn.execute(
        insert(HelpRequest).values(
            student_id=change.student_id,
            state=HelpState.open.value,
            opened_at=state.help_since,
            notebook_path=state.last_notebook,
            ask_id=state.help_ask_id,
        )
    )


def _open_rows(student_id: int) -> object:
    return and_(HelpRequest.student_id == student_id, HelpRequest.closed_at.is_(None))


async def _claim(conn: AsyncConnection, change: HelpChange, at: datetime | None) -> None:
    state = change.after
    claimed = state.help_claimed_by is not None
    answered = state.help_claimed_at or at
    await conn.execute(
        update(HelpRequest)
        .where(_open_rows(change.student_id))  # type: ignore[arg-type]
        .values(
            state=(HelpState.claimed if claimed else HelpState.open).value,
            claimed_by=state.help_claimed_by,
            claimed_at=state.help_claimed_at,
            answered_at=func.coalesce(HelpRequest.answered_at, answered),
        )
    )


async def _close(
    conn: AsyncConnection, change: HelpChange, at: datetime | None, by: str | None
) -> None:
    before, after = change.before, change.after
    assert before is not None
    if by is not None:
        outcome, when, closed_by = HelpState.dismissed, at or after.help_changed_at, by
        answered: Any = func.coalesce(HelpRequest.answered_at, when)
    else:
        claimed = before.help_claimed_by is not None
        outcome = HelpState.resolved if claimed else HelpState.withdrawn
        when, closed_by = after.help_changed_at, STUDENT
        answered = HelpRequest.answered_at
    await conn.execute(
        update(HelpRequest)
        .where(_open_rows(change.student_id))  # type: ignore[arg-type]
        .values(state=outcome.value, closed_at=when, closed_by=closed_by, answered_at=answered)
    )
