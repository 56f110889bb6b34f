"""CSV exports of the dashboard's data (students, executions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from cell_monitor.schemas import UtcTime
from cell_monitor.server.deps import EngineDep, LiveDep
from cell_monitor.storage import export

router = APIRouter(prefix="/api/v1/export", tags=["dashboard"])

TeamQuery = Annotated[str | None, Query(description="only this teamName")]
NotebookQuery = Annotated[str | None, Query(description="only this notebookPath")]


def _csv(rows: AsyncIterator[str], name: str) -> StreamingResponse:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


@router.get("/students.csv", response_class=StreamingResponse)
async def students_csv(
    engine: EngineDep, live: LiveDep, team: TeamQuery = None, notebook: NotebookQuery = None
) -> StreamingResponse:
    """Students with their live state (notebook: those last in it)."""
    filters = export.ExportFilters(team=team, notebook=notebook)
    now = datetime.now(timezone.utc)
    return _csv(export.students_csv(engine, filters, now, live.thresholds), "students")


@router.get("/executions.csv", response_class=StreamingResponse)
async def executions_csv(
    engine: EngineDep,
    team: TeamQuery = None,
    notebook: NotebookQuery = None,
    student: Annotated[str | None, Query(description="only this student")] = None,
    since: Annotated[UtcTime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[UtcTime | None, Query(description="ISO 8601, exclusive")] = None,
) -> StreamingResponse:
    """Cell executions (with code), oldest first."""
    filters = export.ExportFilters(
        team=team, notebook=notebook, student=student, since=since, until=until
    )
    return _csv(export.executions_csv(engine, filters), "executions")
