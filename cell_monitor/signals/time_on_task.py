"""Time on task per student and cell, and per cell for the class.

Active time and edits come from cell_activity (what students' JupyterLabs
reported in engagement events) plus latest_runs (what their runs carried), runs
from latest_runs, first passes from test_results: all kept by
the writer, one row per (student, cell). A cell "slows the class down" when its
median time is at least SLOW_FACTOR times the median of the notebook's other
cells (and at least SLOW_MIN_SECONDS).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor.contract.signals import (
    CellTime,
    ClassCellTime,
    NotebookSignals,
    StudentSignals,
    StudentTime,
    TimeOnTaskOut,
)
from cell_monitor.signals.questions import result_rows, student_question
from cell_monitor.storage.live_store import UnknownStudent
from cell_monitor.storage.models import CellActivityRow, LatestRun, Notebook, Student, TestResultRow

SLOW_FACTOR = 2.0
# A cell is slow only when its median is also at least this long (seconds).
SLOW_MIN_SECONDS = 60.0


@dataclass
class _Cell:
    active_ms: float = 0.0
    edits: int = 0
    runs: int = 0
    first_at: datetime | None = None
    first_passed_at: datetime | None = None

    def seen(self, at: datetime | None) -> None:
        if at is not None and (self.first_at is None or at < self.first_at):
            self.first_at = at

    def view(self, index: int) -> CellTime:
        to_pass = None
        if self.first_passed_at is not None and self.first_at is not None:
            to_pass = max(0.0, (self.first_passed_at - self.first_at).total_seconds())
        return CellTime(
            cell_index=index,
            active_seconds=self.active_ms / 1000,
            edits=self.edits,
            runs=self.runs,
            first_at=self.first_at,
            first_passed_at=self.first_passed_at,
            seconds_to_pass=to_pass,
        )


@dataclass
class _Student:
    cells: dict[int, _Cell] = field(default_factory=lambda: defaultdict(_Cell))


def _where(stmt: Any, model: Any, notebook_ids: Any, student_ids: Any) -> Any:
    if notebook_ids is not None:
        stmt = stmt.where(model.notebook_id.in_(notebook_ids))
    if student_ids is not None:
        stmt = stmt.where(model.student_id.in_(student_ids))
    return stmt


async def _cells(
    conn: AsyncConnection, notebook_ids: Any, student_ids: Any
) -> dict[tuple[int, int], _Student]:
    """(student id, notebook id) → their cells, from the three tables."""
    out: dict[tuple[int, int], _Student] = defaultdict(_Student)
    ca = CellActivityRow
    activity = select(
        ca.student_id, ca.notebook_id, ca.cell_index, ca.active_ms, ca.edits, ca.first_at
    )
    for r in await conn.execute(_where(activity, ca, notebook_ids, student_ids)):
        cell = out[(r.student_id, r.notebook_id)].cells[r.cell_index]
        cell.active_ms, cell.edits = float(r.active_ms), int(r.edits)
        cell.seen(r.first_at)
    lr = LatestRun
    runs = select(
        lr.student_id, lr.notebook_id, lr.cell_index, lr.runs, lr.first_at, lr.edits, lr.active_ms
    )
    for r in await conn.execute(_where(runs, lr, notebook_ids, student_ids)):
        cell = out[(r.student_id, r.notebook_id)].cells[r.cell_index]
        cell.runs = int(r.runs)
        # What the runs carried for their cell, besides what engagement reported.
        cell.active_ms += float(r.active_ms)
        cell.edits += int(r.edits)
        cell.seen(r.first_at)
    tr = TestResultRow
    passed = func.min(tr.first_passed_at)
    passes = (
        select(tr.student_id, tr.notebook_id, tr.cell_index, passed.label("first_passed_at"))
        .where(tr.cell_index.is_not(None))
        .group_by(tr.student_id, tr.notebook_id, tr.cell_index)
    )
    for r in await conn.execute(_where(passes, tr, notebook_ids, student_ids)):
        if r.first_passed_at is not None:
            cell = out[(r.student_id, r.notebook_id)].cells[r.cell_index]
            cell.first_passed_at = r.first_passed_at
    return out


def _class_cells(students: list[StudentTime]) -> list[ClassCellTime]:
    per_cell: dict[int, list[CellTime]] = defaultdict(list)
    for s in students:
        for c in s.cells:
            if c.active_seconds > 0:
                per_cell[c.cell_index].append(c)
    medians = {i: statistics.median(c.active_seconds for c in cs) for i, cs in per_cell.items()}
    out = []
    for index in sorted(per_cell):
        cells = per_cell[index]
        seconds = sorted(c.active_seconds for c in cells)
        to_pass = [c.seconds_to_pass for c in cells if c.seconds_to_pass is not None]
        median = medians[index]
        others = [m for i, m in medians.items() if i != index]
        out.append(
            ClassCellTime(
                cell_index=index,
                students=len(cells),
                median_seconds=median,
                p90_seconds=seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))],
                median_seconds_to_pass=statistics.median(to_pass) if to_pass else None,
                slow=bool(others)
                and median >= SLOW_MIN_SECONDS
                and median >= SLOW_FACTOR * statistics.median(others),
            )
        )
    return out


async def time_on_task(engine: AsyncEngine, notebook: str, team: str | None) -> TimeOnTaskOut:
    """Per cell for the class (median, p90, slow) and per student and cell."""
    notebook_ids = select(Notebook.id).where(Notebook.path == notebook)
    who = select(Student.id, Student.student_key, Student.user_name, Student.team_name)
    if team is not None:
        who = who.where(Student.team_name == team)
    async with engine.connect() as conn:
        cells = await _cells(conn, notebook_ids, None)
        people = {
            r.id: r for r in await conn.execute(who.where(Student.id.in_({k[0] for k in cells})))
        }
    students = []
    for (student_id, _), entry in cells.items():
        person = people.get(student_id)
        if person is None:
            continue  # another team's
        views = [entry.cells[i].view(i) for i in sorted(entry.cells)]
        students.append(
            StudentTime(
                student=person.student_key,
                user_name=person.user_name,
                team_name=person.team_name,
                active_seconds=sum(v.active_seconds for v in views),
                cells=views,
            )
        )
    students.sort(key=lambda s: s.student)
    return TimeOnTaskOut(notebook=notebook, cells=_class_cells(students), students=students)


async def student_signals(engine: AsyncEngine, key: str) -> StudentSignals:
    """One student's test outcomes and time per cell, notebook by notebook."""
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                select(Student.id, Student.student_key).where(
                    Student.student_key.in_({key, key.lower()})
                )
            )
        ).first()
        if found is None:
            raise UnknownStudent(key)
        cells = await _cells(conn, None, [found.id])
        paths = dict(
            (
                await conn.execute(
                    select(Notebook.id, Notebook.path).where(Notebook.id.in_({k[1] for k in cells}))
                )
            ).all()
        )
        tests = (
            await conn.execute(result_rows(None, None).where(TestResultRow.student_id == found.id))
        ).all()
    by_notebook: dict[str, NotebookSignals] = {}
    for (_, notebook_id), entry in sorted(cells.items(), key=lambda kv: paths[kv[0][1]]):
        views = [entry.cells[i].view(i) for i in sorted(entry.cells)]
        by_notebook[paths[notebook_id]] = NotebookSignals(
            notebook=paths[notebook_id],
            active_seconds=sum(v.active_seconds for v in views),
            questions=[],
            cells=views,
        )
    for r in sorted(tests, key=lambda r: (r.cell_index or 0, r.question)):
        empty = NotebookSignals(notebook=r.notebook, active_seconds=0, questions=[], cells=[])
        by_notebook.setdefault(r.notebook, empty).questions.append(student_question(r))
    return StudentSignals(student=found.student_key, notebooks=list(by_notebook.values()))
