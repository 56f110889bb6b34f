"""Notebook progress (heatmap) and error hotspots for the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Query

from cell_monitor.dashboard_schemas import HotspotsOut, NotebookList, ProgressOut
from cell_monitor.server.deps import EngineDep
from cell_monitor.storage import progress

router = APIRouter(prefix="/api/v1", tags=["dashboard"])


@router.get("/notebooks", response_model=NotebookList, response_model_by_alias=True)
async def notebooks(
    engine: EngineDep,
    hours: Annotated[float, Query(gt=0, le=24 * 365, description="window of the counts")] = 24,
) -> NotebookList:
    """Every notebook, most recently used first, with its activity in the last `hours`."""
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    return await progress.list_notebooks(engine, since)


@router.get("/progress", response_model=ProgressOut, response_model_by_alias=True)
async def notebook_progress(
    engine: EngineDep,
    notebook: Annotated[str, Query(description="notebookPath")],
    team: Annotated[str | None, Query(description="only this teamName")] = None,
) -> ProgressOut:
    """Cells x students of a notebook: not run, latest run OK, latest run failed."""
    return await progress.notebook_progress(engine, notebook, team)


@router.get("/hotspots", response_model=HotspotsOut, response_model_by_alias=True)
async def hotspots(
    engine: EngineDep,
    notebook: Annotated[str | None, Query(description="notebookPath; all when absent")] = None,
    hours: Annotated[float | None, Query(gt=0, le=24 * 365, description="only recent")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="groups")] = 50,
    who: Annotated[int, Query(ge=1, le=1000, description="students listed per group")] = 100,
) -> HotspotsOut:
    """Errors grouped by cell, name and message, with how many students hit each."""
    since = datetime.now(timezone.utc) - timedelta(hours=hours) if hours else None
    return await progress.error_hotspots(engine, notebook, since, limit, per_group=who)
