"""The class at a glance: students with their activity, and totals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cell_monitor.schemas import StatsOut, StudentList
from cell_monitor.server.deps import EngineDep
from cell_monitor.storage import queries

router = APIRouter(prefix="/api/v1", tags=["classroom"])


@router.get("/students", response_model=StudentList, response_model_by_alias=True)
async def list_students(
    engine: EngineDep, team: Annotated[str | None, Query(description="teamName")] = None
) -> StudentList:
    """Every student with last activity and event, execution and error counts."""
    return await queries.list_students(engine, team=team)


@router.get("/stats", response_model=StatsOut, response_model_by_alias=True)
async def stats(engine: EngineDep) -> StatsOut:
    """Totals over everything stored."""
    return await queries.stats(engine)
