"""GET /api/v1/activity: executions and errors per minute for the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from cell_monitor.activity import ActivitySource, ActivityUnavailable, Hours, per_minute
from cell_monitor.schemas import ActivityOut
from cell_monitor.server.deps import StateDep

router = APIRouter(prefix="/api/v1", tags=["classroom"])


@router.get(
    "/activity",
    response_model=ActivityOut,
    response_model_by_alias=True,
    responses={503: {"description": "source=influxdb and InfluxDB cannot answer"}},
)
async def activity(
    state: StateDep,
    hours: Annotated[Hours, Query(description="1, 3, 6 or 24")] = Hours.one,
    source: Annotated[
        ActivitySource, Query(description="auto: InfluxDB when configured, else the database")
    ] = ActivitySource.auto,
) -> ActivityOut:
    """Cell executions and errors per minute over the last `hours`."""
    influx = state.influx.api if state.influx is not None else None
    try:
        return await per_minute(state.engine, influx, int(hours), source)
    except ActivityUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
