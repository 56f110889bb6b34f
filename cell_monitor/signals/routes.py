"""Reads of test results and time on task (instructors only, see server/app.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from cell_monitor.contract.signals import FailingOut, QuestionsOut, StudentSignals, TimeOnTaskOut
from cell_monitor.deps import EngineDep
from cell_monitor.downloads import csv_download
from cell_monitor.signals import csv_export
from cell_monitor.signals.questions import failing, questions
from cell_monitor.signals.time_on_task import student_signals, time_on_task
from cell_monitor.storage.live_store import UnknownStudent

router = APIRouter(prefix="/api/v1")

TeamQuery = Annotated[str | None, Query(description="only this teamName")]
NotebookQuery = Annotated[str | None, Query(description="only this notebookPath")]
RequiredNotebook = Annotated[str, Query(description="notebookPath")]


@router.get(
    "/questions", response_model=QuestionsOut, response_model_by_alias=True, tags=["dashboard"]
)
async def list_questions(
    engine: EngineDep, notebook: NotebookQuery = None, team: TeamQuery = None
) -> QuestionsOut:
    """Pass rate per question and each student's latest outcomes."""
    return await questions(engine, notebook, team)


@router.get(
    "/questions/failing",
    response_model=FailingOut,
    response_model_by_alias=True,
    tags=["dashboard"],
)
async def failing_questions(
    engine: EngineDep,
    notebook: NotebookQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> FailingOut:
    """Questions students currently fail, grouped by question, most failing first."""
    return await failing(engine, notebook, limit)


@router.get(
    "/time-on-task", response_model=TimeOnTaskOut, response_model_by_alias=True, tags=["dashboard"]
)
async def get_time_on_task(
    engine: EngineDep, notebook: RequiredNotebook, team: TeamQuery = None
) -> TimeOnTaskOut:
    """Time per cell for the class (median, where it slows down) and per student."""
    return await time_on_task(engine, notebook, team)


@router.get(
    "/student-signals",
    response_model=StudentSignals,
    response_model_by_alias=True,
    tags=["dashboard"],
)
async def get_student_signals(
    engine: EngineDep,
    student: Annotated[str, Query(description="the student's id (any characters)")],
) -> StudentSignals:
    """One student's test outcomes and time per cell, notebook by notebook."""
    try:
        return await student_signals(engine, student)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc


@router.get("/export/questions.csv", response_class=StreamingResponse, tags=["dashboard"])
async def questions_csv(
    engine: EngineDep, notebook: NotebookQuery = None, team: TeamQuery = None
) -> StreamingResponse:
    """Each student's latest outcome of each question."""
    return csv_download(csv_export.questions_csv(engine, notebook, team), "questions")


@router.get("/export/time-on-task.csv", response_class=StreamingResponse, tags=["dashboard"])
async def time_csv(
    engine: EngineDep, notebook: RequiredNotebook, team: TeamQuery = None
) -> StreamingResponse:
    """Each student's active time, edits and runs per cell of a notebook."""
    return csv_download(csv_export.time_csv(engine, notebook, team), "time-on-task")
