"""Notebook list, progress and error hotspots, aggregated in SQL (SQLite and PostgreSQL).

The heatmap, the notebook list and the hotspots read the report tables the
writer keeps (storage/report_tables.py), never the log: hotspots over a window
sum error_minutes. What comes back is one row per (student, cell) or per
(cell, error), never one per execution.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import String, bindparam, case, func, select, text
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
    ErrorMinute,
    ErrorStudent,
    ExecutionMinute,
    LatestRun,
    Notebook,
    NotebookStudent,
    Student,
    UtcDateTime,
)
from cell_monitor.storage.report_tables import epoch_minute

CE = CellExecution
# Per notebook: cell 7 of two notebooks is not the same cell.
HOTSPOT_KEY = (CE.notebook_id, CE.cell_index, CE.error_name, CE.error_message)


async def list_notebooks(engine: AsyncEngine, since: datetime) -> NotebookList:
    """Every notebook, most recently used first, with what happened in it since `since`.

    The counts cover a window, not all time, and come from the tables the writer
    keeps (storage/report_tables.py): executions and errors from the per-minute
    counts (whole minutes: from the minute of `since` on), students from
    notebook_students (a student ran a cell of the notebook in the window exactly
    when their latest run of some cell of it is in the window).
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
        select(NotebookStudent.notebook_id, func.count())
        .where(NotebookStudent.last_at >= since)
        .group_by(NotebookStudent.notebook_id)
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


def _cells_per_student(conn: AsyncConnection, notebook: str, team: str | None) -> Any:
    """One row per student of the notebook: identity and their cells, packed in a string.

    Each (student, cell) is one latest_runs row, read from ix_latest_runs_cells
    alone; the database packs a student's cells as "2c+f,..." (cell index times
    two, plus one when its latest run failed), so the heatmap fetches as many
    rows as it has students, not one per cell.
    """
    lr = LatestRun
    code = (lr.cell_index * 2 + case((lr.failed, 1), else_=0)).cast(String)
    if conn.dialect.name == "postgresql":
        packed = func.string_agg(code, ",")
    else:
        packed = func.group_concat(code, ",")
    per_student = (
        select(lr.student_id, packed.label("cells"))
        .where(lr.notebook_id == _notebook_id(notebook))
        .group_by(lr.student_id)
    )
    if team is not None:
        team_ids = select(Student.id).where(Student.team_name == team)
        per_student = per_student.where(lr.student_id.in_(team_ids))
    cells = per_student.subquery()
    return select(Student.student_key, Student.user_name, Student.team_name, cells.c.cells).join(
        cells, cells.c.student_id == Student.id
    )


async def notebook_progress(engine: AsyncEngine, notebook: str, team: str | None) -> ProgressOut:
    """Cells x students of `notebook` (optionally one team's students)."""
    async with engine.connect() as conn:
        rows = list((await conn.execute(_cells_per_student(conn, notebook, team))).all())
    rows.sort(key=lambda r: r.student_key)
    reached: dict[int, int] = defaultdict(int)
    failed: dict[int, int] = defaultdict(int)
    students = []
    for r in rows:
        states: dict[int, CellState] = {}
        for code in map(int, r.cells.split(",")):
            cell = code >> 1
            states[cell] = _FAILED if code & 1 else _OK
            reached[cell] += 1
            failed[cell] += code & 1
        # Built without validation: the values come from typed columns.
        students.append(
            StudentProgress.model_construct(
                student=r.student_key,
                user_name=r.user_name,
                team_name=r.team_name,
                cells=dict(sorted(states.items())),
            )
        )
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
    return ProgressOut.model_construct(
        notebook=notebook, cell_count=cell_count, cells=cells, students=students
    )


_OK, _FAILED = CellState.ok, CellState.failed


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
    items = [
        Hotspot(
            notebook=paths.get(r.notebook_id),
            cell_index=r.cell_index,
            error_name=r.error_name,
            error_message=r.error_message,
            students=r.students,
            occurrences=r.occurrences,
            last_at=_as_utc(r.last_at) or datetime.min,
            who=who_rows.get(r.id, []),
        )
        for r in group_rows
    ]
    return HotspotsOut(notebook=notebook, since=since, items=items)


async def _term_hotspots(
    conn: AsyncConnection, notebook: str | None, limit: int, per_group: int
) -> tuple[list[Any], dict[int, list[HotspotStudent]]]:
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
        return [], {}
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
    return group_rows, await _who(conn, [r.id for r in group_rows], per_group, None)


def _group_of(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in GROUP_FIELDS}


GROUP_FIELDS = ("notebook_id", "cell_index", "error_name", "error_message")


async def _window_hotspots(
    conn: AsyncConnection, notebook: str | None, since: datetime, limit: int, per_group: int
) -> tuple[list[Any], dict[int, list[HotspotStudent]]]:
    """Hotspots of the errors from the minute of `since` on, from the report tables.

    Occurrences per group are the window's minutes of error_minutes; a student
    hit a group in the window exactly when their latest error of it
    (error_students.last_at) is in the window. Both read a few rows per group
    and minute, never the log's errors.
    """
    minute = epoch_minute(since)
    start = datetime.fromtimestamp(minute * 60, timezone.utc)
    em, es = ErrorMinute, ErrorStudent
    occurrences = (
        select(em.group_id, func.sum(em.occurrences).label("occurrences"))
        .where(em.minute >= minute)
        .group_by(em.group_id)
    )
    students = (
        select(es.group_id, func.count().label("students"), func.max(es.last_at).label("last_at"))
        .where(es.last_at >= start)
        .group_by(es.group_id)
    )
    if notebook is not None:
        in_notebook = select(ErrorGroup.id).where(ErrorGroup.notebook_id == _notebook_id(notebook))
        occurrences = occurrences.where(em.group_id.in_(in_notebook))
        students = students.where(es.group_id.in_(in_notebook))
    hits = {r.group_id: r for r in await conn.execute(students)}
    if not hits:
        return [], {}  # no one erred in the window (a notebook of an earlier week)
    counts = {g: int(n) for g, n in await conn.execute(occurrences) if g in hits and n > 0}
    if not counts:
        return [], {}
    eg = ErrorGroup
    fields = select(eg.id, *(getattr(eg, f) for f in GROUP_FIELDS)).where(eg.id.in_(counts))
    groups = {r.id: r for r in await conn.execute(fields)}

    def rank(group: int) -> tuple[Any, ...]:
        cell = groups[group].cell_index
        return (-hits[group].students, -counts[group], cell is None, cell or 0)

    top = sorted((g for g in counts if g in groups), key=rank)[:limit]
    group_rows = [
        SimpleNamespace(
            id=g,
            **_group_of(groups[g]),
            students=int(hits[g].students),
            occurrences=counts[g],
            last_at=hits[g].last_at,
        )
        for g in top
    ]
    return group_rows, await _who(conn, top, per_group, start)


async def _who(
    conn: AsyncConnection, groups: list[int], per_group: int, since: datetime | None
) -> dict[int, list[HotspotStudent]]:
    """The latest `per_group` students of each group (since `since`), newest first.

    One statement: on PostgreSQL a LATERAL index range per group on
    (group_id, last_at DESC) that stops at `per_group`; on SQLite (in process)
    the groups' rows ranked by a window function. Names are joined to the kept
    rows only.
    """
    if not groups:
        return {}
    window = "" if since is None else "AND es.last_at >= :since"
    if conn.dialect.name == "postgresql":
        sql = (
            "SELECT w.group_id, w.last_at, s.student_key, s.user_name, s.team_name "
            "FROM unnest(CAST(:ids AS BIGINT[])) AS g(id) CROSS JOIN LATERAL "
            "(SELECT es.group_id, es.student_id, es.last_at FROM error_students es "
            f"WHERE es.group_id = g.id {window} ORDER BY es.last_at DESC LIMIT :n) w "
            "JOIN students s ON s.id = w.student_id"
        )
    else:
        sql = (
            "SELECT w.group_id, w.last_at, s.student_key, s.user_name, s.team_name FROM "
            "(SELECT es.group_id, es.student_id, es.last_at, row_number() OVER "
            "(PARTITION BY es.group_id ORDER BY es.last_at DESC) AS rank FROM error_students es "
            f"WHERE es.group_id IN :ids {window}) w "
            "JOIN students s ON s.id = w.student_id WHERE w.rank <= :n"
        )
    stmt = text(sql)
    params: dict[str, Any] = {"ids": sorted(groups), "n": per_group}
    if conn.dialect.name != "postgresql":
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
    if since is not None:
        stmt = stmt.bindparams(bindparam("since", type_=UtcDateTime()))
        params["since"] = since
    who: dict[int, list[HotspotStudent]] = {}
    for group, last_at, key, name, team in await conn.execute(stmt, params):
        # Built without validation: the values come from typed columns.
        who.setdefault(group, []).append(
            HotspotStudent.model_construct(
                student=key,
                user_name=name,
                team_name=team,
                last_at=_as_utc(last_at) or datetime.min,
            )
        )
    for students in who.values():
        students.sort(key=lambda w: w.last_at, reverse=True)
    return who


async def _notebook_paths(conn: AsyncConnection, ids: set[Any]) -> dict[Any, str]:
    rows = await conn.execute(select(Notebook.id, Notebook.path).where(Notebook.id.in_(ids)))
    return {row.id: row.path for row in rows}
