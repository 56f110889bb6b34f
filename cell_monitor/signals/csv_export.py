"""CSV exports of test results and time on task (one row per student and question or cell)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.downloads import csv_lines
from cell_monitor.signals.questions import questions
from cell_monitor.signals.time_on_task import time_on_task

QUESTION_COLUMNS = (
    "student",
    "userName",
    "teamName",
    "notebookPath",
    "question",
    "cellIndex",
    "passed",
    "points",
    "attempts",
    "firstPassedAt",
    "lastAt",
    "lastErrorName",
)
TIME_COLUMNS = (
    "student",
    "userName",
    "teamName",
    "notebookPath",
    "cellIndex",
    "activeSeconds",
    "edits",
    "runs",
    "firstAt",
    "firstPassedAt",
    "secondsToPass",
)


async def questions_csv(
    engine: AsyncEngine, notebook: str | None, team: str | None
) -> AsyncIterator[str]:
    """Each student's latest outcome of each question."""
    yield csv_lines([QUESTION_COLUMNS])
    out = await questions(engine, notebook, team)
    for s in out.students:
        yield csv_lines(
            [
                (
                    s.student,
                    s.user_name,
                    s.team_name,
                    q.notebook,
                    q.question,
                    q.cell_index,
                    q.passed,
                    q.points,
                    q.attempts,
                    q.first_passed_at,
                    q.last_at,
                    q.error_name,
                )
                for q in s.questions
            ]
        )


async def time_csv(engine: AsyncEngine, notebook: str, team: str | None) -> AsyncIterator[str]:
    """Each student's time, edits and runs per cell of `notebook`."""
    yield csv_lines([TIME_COLUMNS])
    out = await time_on_task(engine, notebook, team)
    for s in out.students:
        yield csv_lines(
            [
                (
                    s.student,
                    s.user_name,
                    s.team_name,
                    notebook,
                    c.cell_index,
                    round(c.active_seconds, 1),
                    c.edits,
                    c.runs,
                    c.first_at,
                    c.first_passed_at,
                    None if c.seconds_to_pass is None else round(c.seconds_to_pass, 1),
                )
                for c in s.cells
            ]
        )
