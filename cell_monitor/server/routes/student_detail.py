"""One student's timeline for the dashboard's detail view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.dashboard_schemas import StudentDetail
from cell_monitor.server.deps import EngineDep
from cell_monitor.storage import timeline
from cell_monitor.storage.live_store import UnknownStudent
from cell_monitor.storage.queries import decode_cursor

router = APIRouter(prefix="/api/v1", tags=["dashboard"])


LimitQuery = Annotated[int, Query(ge=1, le=500)]
CursorQuery = Annotated[str | None, Query(description="nextCursor of the previous page")]


@router.get("/students/detail", response_model=StudentDetail, response_model_by_alias=True)
async def student_detail(
    student: Annotated[str, Query(min_length=1, description="the student's key")],
    engine: EngineDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> StudentDetail:
    """Executions, help requests and sessions of any student (ids with "/", "..", "%"...)."""
    return await _detail(engine, student, limit, cursor)


@router.get(
    "/students/{student:path}/detail", response_model=StudentDetail, response_model_by_alias=True
)
async def student_detail_by_path(
    student: str, engine: EngineDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> StudentDetail:
    """Executions (code, duration, error, output), help requests and sessions of a student."""
    return await _detail(engine, student, limit, cursor)


async def _detail(
    engine: AsyncEngine, student: str, limit: int, cursor: str | None
) -> StudentDetail:
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    try:
        return await timeline.student_detail(engine, student, limit=limit, after=after)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc
