"""Notebook list, progress and error hotspots, aggregated in SQL (SQLite and PostgreSQL).

The heatmap, the notebook list and the whole term's hotspots read the report
tables the writer keeps (storage/report_tables.py): what they cost is what they
show. Hotspots over a window read that window's errors from `cell_executions`
(ix_cell_executions_errors_time). What comes back is one row per (student, cell)
or per (cell, error), never one per execution.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import distinct, func, select
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
from cell_monitor.storage.models import (
    CellExecution,
    ErrorGroup,
    ErrorGroupCount,
    ErrorStudent,
    ExecutionMinute,
    LatestRun,
    Notebook,
    Student,
)
from cell_monitor.storage.report_tables import epoch_minute

CE = CellExecution
# Per notebook: cell 7 of two notebooks is not the same cell.
HOTSPOT_KEY = (CE.notebook_id, CE.cell_index, CE.error_name, CE.error_message)


async def list_notebooks(engine: AsyncEngine, since: datetime) -> NotebookList:
    """Every notebook, most recently used first, with what happened in it since `since`.

    The counts cover a window, not all time, and come from the tables the writer
    keeps (storage/report_tables.py): executions and errors from the per-minute
    counts (whole minutes: from the minute of `since` on), students from the
    latest runs (a student ran a cell of the notebook in the window exactly when
    their latest run of some cell of it is in the window).
    """
    notebooks = select(Notebook.id, Notebook.path, Notebook.last_seen).order_by(
        Notebook.last_seen.desc(), Notebook.path
    )
    minutes = ExecutionMinute
    counts = (
        select(
            minutes.notebook_id,
            func.sum(minutes.executions).label("executions"),
            func.sum(minutes.errors).label("errors"),
        )
        .where(minutes.minute >= epoch_minute(since))
        .group_by(minutes.notebook_id)
    )
    students = (
        select(LatestRun.notebook_id, func.count(distinct(LatestRun.student_id)))
        .where(LatestRun.last_at >= since)
        .group_by(LatestRun.notebook_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(notebooks)).all()
        recent = {r.notebook_id: r for r in await conn.execute(counts)}
        who = dict((await conn.execute(students)).all())
    items = []
    for r in rows:
        seen = recent.get(r.id)
        items.append(
            NotebookOut(
                path=r.path,
                students=int(who.get(r.id, 0)),
                executions=int(seen.executions or 0) if seen else 0,
                errors=int(seen.errors or 0) if seen else 0,
                last_activity=_as_utc(r.last_seen),
            )
        )
    return NotebookList(since=since, items=items)


def _notebook_id(path: str) -> Any:
    return select(Notebook.id).where(Notebook.path == path).scalar_subquery()


def _latest_runs(notebook: str, team: str | None) -> Any:
    """Each (student, cell) of the notebook, and whether its latest run failed.

    One row each in latest_runs (kept by the writer), whatever the history.
    """
    stmt = select(LatestRun.student_id, LatestRun.cell_index, LatestRun.failed).where(
        LatestRun.notebook_id == _notebook_id(notebook)
    )
    if team is not None:
        team_ids = select(Student.id).where(Student.team_name == team)
        stmt = stmt.where(LatestRun.student_id.in_(team_ids))
    return stmt.subquery()


async def notebook_progress(engine: AsyncEngine, notebook: str, team: str | None) -> ProgressOut:
    """Cells x students of `notebook` (optionally one team's students)."""
    latest = _latest_runs(notebook, team)
    # Small rows, ordered here: sorting tens of thousands of joined rows by the
    # student's key spilled to disk in PostgreSQL at a term's size.
    cells_of = select(latest.c.student_id, latest.c.cell_index, latest.c.failed)
    who = select(Student.id, Student.student_key, Student.user_name, Student.team_name).where(
        Student.id.in_(select(latest.c.student_id).distinct())
    )
    async with engine.connect() as conn:
        runs = sorted((await conn.execute(cells_of)).all(), key=lambda r: r.cell_index)
        people = {r.id: r for r in await conn.execute(who)}
    order = sorted(people, key=lambda pk: people[pk].student_key)
    entries = {
        pk: StudentProgress(
            student=people[pk].student_key,
            user_name=people[pk].user_name,
            team_name=people[pk].team_name,
            cells={},
        )
        for pk in order
    }
    # Per-cell totals from the (student, cell) rows.
    reached: dict[int, int] = {}
    failed: dict[int, int] = {}
    for r in runs:
        entries[r.student_id].cells[r.cell_index] = CellState.failed if r.failed else CellState.ok
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
        notebook=notebook, cell_count=cell_count, cells=cells, students=list(entries.values())
    )


async def error_hotspots(
    engine: AsyncEngine,
    notebook: str | None,
    since: datetime | None,
    limit: int,
    per_group: int = 100,
) -> HotspotsOut:
    """Errors grouped by (cell, name, message), most students first, with those students."""
    async with engine.connect() as conn:
        if since is None:
            group_rows, who_rows = await _term_hotspots(conn, notebook, limit, per_group)
        else:
            group_rows, who_rows = await _window_hotspots(conn, notebook, since, limit, per_group)
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


async def _term_hotspots(
    conn: AsyncConnection, notebook: str | None, limit: int, per_group: int
) -> tuple[list[Any], list[Any]]:
    """The whole term's hotspots, from the error tables the writer keeps."""
    students = func.sum(ErrorGroupCount.students)
    occurrences = func.sum(ErrorGroupCount.occurrences)
    counts = (
        select(
            ErrorGroupCount.group_id,
            students.label("students"),
            occurrences.label("occurrences"),
        )
        .group_by(ErrorGroupCount.group_id)
        .having(students > 0)
    )
    if notebook is not None:
        in_notebook = select(ErrorGroup.id).where(ErrorGroup.notebook_id == _notebook_id(notebook))
        counts = counts.where(ErrorGroupCount.group_id.in_(in_notebook))
    c = counts.subquery()
    eg = ErrorGroup
    top = (
        select(eg.id, eg.notebook_id, eg.cell_index, eg.error_name, eg.error_message, c)
        .join(c, c.c.group_id == eg.id)
        .order_by(c.c.students.desc(), c.c.occurrences.desc(), eg.cell_index)
        .limit(limit)
    )
    tops = (await conn.execute(top)).all()
    if not tops:
        return [], []
    ids = [r.id for r in tops]
    es = ErrorStudent
    last = dict(
        (
            await conn.execute(
                select(es.group_id, func.max(es.last_at))
                .where(es.group_id.in_(ids))
                .group_by(es.group_id)
            )
        ).all()
    )
    group_rows = [
        SimpleNamespace(**r._mapping, last_at=last.get(r.id)) for r in tops if r.id in last
    ]
    # Ranked on error_students alone (its (group_id, last_at) index), the
    # students' names joined to the kept rows only.
    rank = func.row_number().over(partition_by=es.group_id, order_by=es.last_at.desc())
    ranked = (
        select(es.group_id, es.student_id, es.last_at, rank.label("rank"))
        .where(es.group_id.in_(ids))
        .subquery()
    )
    who = (
        select(ranked.c.group_id, ranked.c.last_at, *_IDENTITY)
        .join(Student, Student.id == ranked.c.student_id)
        .where(ranked.c.rank <= per_group)
        .order_by(ranked.c.rank)
    )
    key_of = {r.id: r for r in tops}
    who_rows = [
        SimpleNamespace(**_group_of(key_of[r.group_id]), **r._mapping)
        for r in await conn.execute(who)
    ]
    return group_rows, who_rows


_IDENTITY = (Student.student_key, Student.user_name, Student.team_name)


def _group_of(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in GROUP_FIELDS}


GROUP_FIELDS = ("notebook_id", "cell_index", "error_name", "error_message")


async def _window_hotspots(
    conn: AsyncConnection, notebook: str | None, since: datetime, limit: int, per_group: int
) -> tuple[list[Any], list[Any]]:
    """Hotspots of the errors since `since`: one read of the window's errors
    (ix_cell_executions_errors_time), per (group, student), grouped here."""
    per_student = (
        select(
            *HOTSPOT_KEY,
            CE.student_id,
            func.count().label("occurrences"),
            func.max(CE.event_time).label("last_at"),
        )
        .where(CE.has_error, CE.event_time >= since)
        .group_by(*HOTSPOT_KEY, CE.student_id)
    )
    if notebook is not None:
        per_student = per_student.where(CE.notebook_id == _notebook_id(notebook))
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for r in await conn.execute(per_student):
        key = (r.notebook_id, r.cell_index, r.error_name, r.error_message)
        groups.setdefault(key, []).append((_as_utc(r.last_at), r.student_id, r.occurrences))

    def rank(item: tuple[tuple[Any, ...], list[Any]]) -> tuple[Any, ...]:
        (_, cell, _, _), hits = item
        return (-len(hits), -sum(h[2] for h in hits), cell is None, cell or 0)

    top = sorted(groups.items(), key=rank)[:limit]
    group_rows, picked = [], []
    for key, hits in top:
        hits.sort(key=lambda h: h[0], reverse=True)
        fields = dict(zip(GROUP_FIELDS, key, strict=True))
        group_rows.append(
            SimpleNamespace(
                **fields,
                students=len(hits),
                occurrences=sum(h[2] for h in hits),
                last_at=hits[0][0],
            )
        )
        picked += [(fields, last_at, student) for last_at, student, _ in hits[:per_group]]
    ids = {student for _, _, student in picked}
    people = {
        r.id: r
        for r in await conn.execute(select(Student.id, *_IDENTITY).where(Student.id.in_(ids)))
    }
    who_rows = [
        SimpleNamespace(**fields, last_at=last_at, **_identity(people[student]))
        for fields, last_at, student in picked
    ]
    return group_rows, who_rows


def _identity(row: Any) -> dict[str, Any]:
    return {"student_key": row.student_key, "user_name": row.user_name, "team_name": row.team_name}


async def _notebook_paths(conn: AsyncConnection, ids: set[Any]) -> dict[Any, str]:
    rows = await conn.execute(select(Notebook.id, Notebook.path).where(Notebook.id.in_(ids)))
    return {row.id: row.path for row in rows}
