"""Notebook progress and error hotspots, aggregated in SQL (SQLite and PostgreSQL).

Both read `cell_executions` of one notebook through ix_cell_executions_notebook_cell /
ix_cell_executions_notebook_time; what comes back is one row per (student, cell) or
per (cell, error), never one per execution.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor.contract.reads import (
    CellProgress,
    CellState,
    Hotspot,
    HotspotsOut,
    HotspotStudent,
    NotebookList,
    NotebookOut,
    ProgressOut,
    StudentProgress,
)
from cell_monitor.reports.queries import _as_utc
from cell_monitor.storage.models import CellExecution, Notebook, Student

CE = CellExecution
# Per notebook: cell 7 of two notebooks is not the same cell.
HOTSPOT_KEY = (CE.notebook_id, CE.cell_index, CE.error_name, CE.error_message)


def _failed_as_int() -> Any:
    return case((CE.has_error, 1), else_=0)


async def list_notebooks(engine: AsyncEngine, since: datetime) -> NotebookList:
    """Every notebook, most recently used first, with what happened in it since `since`.

    The counts cover a window, not all time: over a term's millions of
    executions they would read every row on each visit of the dashboard.
    """
    notebooks = select(Notebook.id, Notebook.path, Notebook.last_seen).order_by(
        Notebook.last_seen.desc(), Notebook.path
    )
    counts = (
        select(
            CE.notebook_id,
            func.count(distinct(CE.student_id)).label("students"),
            func.count().label("executions"),
            func.sum(_failed_as_int()).label("errors"),
        )
        .where(CE.event_time >= since)
        .group_by(CE.notebook_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(notebooks)).all()
        recent = {r.notebook_id: r for r in await conn.execute(counts)}
    items = []
    for r in rows:
        seen = recent.get(r.id)
        items.append(
            NotebookOut(
                path=r.path,
                students=seen.students if seen else 0,
                executions=seen.executions if seen else 0,
                errors=int(seen.errors or 0) if seen else 0,
                last_activity=_as_utc(r.last_seen),
            )
        )
    return NotebookList(since=since, items=items)


def _notebook_id(path: str) -> Any:
    return select(Notebook.id).where(Notebook.path == path).scalar_subquery()


def _latest_runs(notebook: str, team: str | None) -> Any:
    """Each (student, cell) of the notebook, and whether its latest run failed."""
    # One GROUP BY instead of ranking every run: the latest run failed when the
    # latest failure is as recent as the latest run.
    last_run = func.max(CE.event_time)
    last_failure = func.max(case((CE.has_error, CE.event_time)))
    stmt = (
        select(CE.student_id, CE.cell_index, (last_failure == last_run).label("failed"))
        .where(CE.notebook_id == _notebook_id(notebook), CE.cell_index.is_not(None))
        .group_by(CE.student_id, CE.cell_index)
    )
    if team is not None:
        team_ids = select(Student.id).where(Student.team_name == team)
        stmt = stmt.where(CE.student_id.in_(team_ids))
    return stmt.subquery()


async def notebook_progress(engine: AsyncEngine, notebook: str, team: str | None) -> ProgressOut:
    """Cells x students of `notebook` (optionally one team's students)."""
    latest = _latest_runs(notebook, team)
    stmt = (
        select(
            Student.student_key,
            Student.user_name,
            Student.team_name,
            latest.c.cell_index,
            latest.c.failed,
        )
        .join(Student, Student.id == latest.c.student_id)
        .order_by(Student.student_key, latest.c.cell_index)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    students: dict[str, StudentProgress] = {}
    # Per-cell totals from the (student, cell) rows SQL already aggregated.
    reached: dict[int, int] = {}
    failed: dict[int, int] = {}
    for r in rows:
        entry = students.get(r.student_key)
        if entry is None:
            entry = students[r.student_key] = StudentProgress(
                student=r.student_key, user_name=r.user_name, team_name=r.team_name, cells={}
            )
        entry.cells[r.cell_index] = CellState.failed if r.failed else CellState.ok
        reached[r.cell_index] = reached.get(r.cell_index, 0) + 1
        failed[r.cell_index] = failed.get(r.cell_index, 0) + bool(r.failed)
    cells = [
        CellProgress(
            cell_index=cell,
            reached=reached[cell],
            failed=failed[cell],
            ok=reached[cell] - failed[cell],
        )
        for cell in sorted(reached)
    ]
    cell_count = cells[-1].cell_index + 1 if cells else 0
    return ProgressOut(
        notebook=notebook, cell_count=cell_count, cells=cells, students=list(students.values())
    )


def _errors(notebook: str | None, since: datetime | None) -> Select[Any]:
    stmt = select().select_from(CE).where(CE.has_error)
    if notebook is not None:
        stmt = stmt.where(CE.notebook_id == _notebook_id(notebook))
    if since is not None:
        stmt = stmt.where(CE.event_time >= since)
    return stmt


def _hotspot_groups(notebook: str | None, since: datetime | None, limit: int) -> Select[Any]:
    """The `limit` (cell, name, message) groups that most students hit."""
    students = func.count(distinct(CE.student_id))
    return (
        _errors(notebook, since)
        .add_columns(
            *HOTSPOT_KEY,
            students.label("students"),
            func.count().label("occurrences"),
            func.max(CE.event_time).label("last_at"),
        )
        .group_by(*HOTSPOT_KEY)
        .order_by(students.desc(), func.count().desc(), CE.cell_index)
        .limit(limit)
    )


def _hotspot_students(
    groups: Any, notebook: str | None, since: datetime | None, per_group: int
) -> Select[Any]:
    """The students of each group (the `per_group` most recent), with their last such error."""
    last_at = func.max(CE.event_time)
    rank = func.row_number().over(partition_by=HOTSPOT_KEY, order_by=last_at.desc())
    same_group = and_(
        *(column.is_not_distinct_from(groups.c[column.key]) for column in HOTSPOT_KEY)
    )
    ranked = (
        _errors(notebook, since)
        .add_columns(
            *HOTSPOT_KEY,
            Student.student_key,
            Student.user_name,
            Student.team_name,
            last_at.label("last_at"),
            rank.label("rank"),
        )
        .join(groups, same_group)
        .join(Student, Student.id == CE.student_id)
        .group_by(
            *HOTSPOT_KEY, Student.id, Student.student_key, Student.user_name, Student.team_name
        )
        .subquery()
    )
    return select(ranked).where(ranked.c.rank <= per_group).order_by(ranked.c.rank)


async def error_hotspots(
    engine: AsyncEngine,
    notebook: str | None,
    since: datetime | None,
    limit: int,
    per_group: int = 100,
) -> HotspotsOut:
    """Errors grouped by (cell, name, message), most students first, with those students."""
    groups = _hotspot_groups(notebook, since, limit)
    async with engine.connect() as conn:
        group_rows = (await conn.execute(groups)).all()
        who_rows = []
        if group_rows:
            who = _hotspot_students(groups.subquery(), notebook, since, per_group)
            who_rows = (await conn.execute(who)).all()
        paths = await _notebook_paths(conn, {r.notebook_id for r in group_rows})
    by_group: dict[tuple[Any, ...], list[HotspotStudent]] = {}
    for r in who_rows:
        key = (r.notebook_id, r.cell_index, r.error_name, r.error_message)
        by_group.setdefault(key, []).append(
            HotspotStudent(
                student=r.student_key,
                user_name=r.user_name,
                team_name=r.team_name,
                last_at=_as_utc(r.last_at) or datetime.min,
            )
        )
    items = [
        Hotspot(
            notebook=paths.get(r.notebook_id),
            cell_index=r.cell_index,
            error_name=r.error_name,
            error_message=r.error_message,
            students=r.students,
            occurrences=r.occurrences,
            last_at=_as_utc(r.last_at) or datetime.min,
            who=by_group.get((r.notebook_id, r.cell_index, r.error_name, r.error_message), []),
        )
        for r in group_rows
    ]
    return HotspotsOut(notebook=notebook, since=since, items=items)


async def _notebook_paths(conn: AsyncConnection, ids: set[Any]) -> dict[Any, str]:
    rows = await conn.execute(select(Notebook.id, Notebook.path).where(Notebook.id.in_(ids)))
    return {row.id: row.path for row in rows}
