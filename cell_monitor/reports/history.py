"""A student's runs of one cell, oldest first, each with the diff from the run before it.

What the student changed before it worked is the diff between consecutive runs; a
page that starts after a cursor still diffs its first run against the run before it.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor.contract.insight import Run, RunHistory
from cell_monitor.reports.queries import Cursor, encode_cursor
from cell_monitor.storage.live_store import UnknownStudent
from cell_monitor.storage.models import EXECUTION_OF_EVENT, CellExecution, Event, Notebook, Student

CE = CellExecution
# A diff longer than this is cut (the code itself is in the run); the UI says so.
MAX_DIFF_LINES = 400


def outcome_of(has_error: bool, error_name: str | None) -> str:
    """`ok`, or the error's name: what a run (or an attempt) came to."""
    if not has_error:
        return "ok"
    return error_name or "error"


async def run_history(
    engine: AsyncEngine,
    student: str,
    notebook: str,
    cell_index: int | None,
    cell_id: str | None = None,
    *,
    limit: int,
    after: Cursor | None = None,
) -> RunHistory:
    """Runs of one cell (by index, or by cell id when given), oldest first, keyset-paged."""
    async with engine.connect() as conn:
        student_id = await _student_id(conn, student)
        where = _cell_filter(student_id, notebook, cell_index, cell_id)
        page = select(*_COLUMNS).join(Event, EXECUTION_OF_EVENT).where(*where)
        if after is not None:
            page = page.where(tuple_(CE.event_time, CE.id) > tuple_(*after))
        rows = (await conn.execute(page.order_by(CE.event_time, CE.id).limit(limit + 1))).all()
        previous = None
        if after is not None:
            before = (
                select(CE.code)
                .where(*where, tuple_(CE.event_time, CE.id) <= tuple_(*after))
                .order_by(CE.event_time.desc(), CE.id.desc())
                .limit(1)
            )
            previous = (await conn.execute(before)).scalar_one_or_none()
        total = (await conn.execute(select(func.count()).select_from(CE).where(*where))).scalar()
    runs: list[Run] = []
    first = after is None
    for r in rows[:limit]:
        diff = None if first else _diff(previous, r.code)
        runs.append(_run(r, diff))
        previous, first = r.code, False
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor((last.event_time, last.id))
    return RunHistory(
        student=student,
        notebook=notebook,
        cell_index=cell_index,
        runs=runs,
        total=int(total or 0),
        next_cursor=next_cursor,
    )


_COLUMNS = (
    CE.id,
    Event.event_id,
    CE.event_time,
    CE.cell_index,
    CE.cell_id,
    CE.execution_count,
    CE.code,
    CE.has_error,
    CE.error_name,
    CE.error_message,
    CE.duration_ms,
)


async def _student_id(conn: AsyncConnection, key: str) -> int:
    found = (
        await conn.execute(select(Student.id).where(Student.student_key.in_({key, key.lower()})))
    ).scalar_one_or_none()
    if found is None:
        raise UnknownStudent(key)
    return int(found)


def _cell_filter(
    student_id: int, notebook: str, cell_index: int | None, cell_id: str | None
) -> list[Any]:
    notebook_id = select(Notebook.id).where(Notebook.path == notebook).scalar_subquery()
    where = [CE.student_id == student_id, CE.notebook_id == notebook_id]
    # A cell id survives cells inserted above it; the index is what older clients send.
    where.append(CE.cell_id == cell_id if cell_id else CE.cell_index == cell_index)
    return where


def _diff(before: str | None, after: str | None) -> list[str]:
    lines = list(
        difflib.unified_diff(
            (before or "").splitlines(),
            (after or "").splitlines(),
            "previous run",
            "this run",
            lineterm="",
            n=2,
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        return [*lines[:MAX_DIFF_LINES], f"… {len(lines) - MAX_DIFF_LINES} more lines"]
    return lines


def _run(r: Any, diff: list[str] | None) -> Run:
    return Run(
        event_id=r.event_id,
        event_time=r.event_time,
        cell_index=r.cell_index,
        cell_id=r.cell_id,
        execution_count=r.execution_count,
        code=r.code,
        outcome=outcome_of(r.has_error, r.error_name),
        error_message=r.error_message,
        duration_ms=r.duration_ms,
        diff=diff,
    )
