"""The read API and the dashboard's reports: events, students, stats, activity,
notebooks, progress, hotspots, student detail, code insight and CSV exports."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.background import BackgroundTask

from cell_monitor.contract.events import UtcTime
from cell_monitor.contract.insight import ClustersOut, ReplayOut, RunHistory
from cell_monitor.contract.reads import (
    ActivityOut,
    EventPage,
    HotspotsOut,
    NotebookList,
    ProgressOut,
    StatsOut,
    StudentDetail,
    StudentList,
)
from cell_monitor.deps import EngineDep, SettingsDep, app_part
from cell_monitor.domain.live_status import thresholds_of
from cell_monitor.downloads import csv_download
from cell_monitor.reports import csv_export as export
from cell_monitor.reports import progress, queries, timeline
from cell_monitor.reports.activity import ActivitySource, ActivityUnavailable, Hours, per_minute
from cell_monitor.reports.analysis_export import (
    Format,
    ParquetUnavailable,
    write_analysis,
    zip_directory,
)
from cell_monitor.reports.clusters import answer_clusters, attempt_clusters
from cell_monitor.reports.history import run_history
from cell_monitor.reports.replay import replay
from cell_monitor.storage.live_store import UnknownStudent

router = APIRouter(prefix="/api/v1")

TeamQuery = Annotated[str | None, Query(description="only this teamName")]
NotebookQuery = Annotated[str | None, Query(description="only this notebookPath")]


@router.get("/events", response_model=EventPage, response_model_by_alias=True, tags=["events"])
async def list_events(
    engine: EngineDep,
    student: Annotated[str | None, Query(description="emailAddress or userId")] = None,
    notebook: Annotated[str | None, Query(description="notebookPath")] = None,
    event_type: Annotated[list[str] | None, Query(alias="eventType")] = None,
    since: Annotated[UtcTime | None, Query(description="events at or after (ISO 8601)")] = None,
    until: Annotated[UtcTime | None, Query(description="events before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
) -> EventPage:
    """Stored events, newest first, filtered and paginated with a cursor."""
    try:
        position = queries.decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(422, f"invalid cursor: {exc}") from exc
    filters = queries.EventFilters(
        student=student, notebook=notebook, event_types=event_type, since=since, until=until
    )
    return await queries.list_events(engine, filters, limit=limit, after=position)


@router.get(
    "/students", response_model=StudentList, response_model_by_alias=True, tags=["classroom"]
)
async def list_students(
    engine: EngineDep, team: Annotated[str | None, Query(description="teamName")] = None
) -> StudentList:
    """Every student with last activity and event, execution and error counts."""
    return await queries.list_students(engine, team=team)


@router.get("/stats", response_model=StatsOut, response_model_by_alias=True, tags=["classroom"])
async def stats(engine: EngineDep) -> StatsOut:
    """Totals over everything stored."""
    return await queries.stats(engine)


@router.get(
    "/activity",
    response_model=ActivityOut,
    response_model_by_alias=True,
    responses={503: {"description": "source=influxdb and InfluxDB cannot answer"}},
    tags=["classroom"],
)
async def activity(
    request: Request,
    engine: EngineDep,
    hours: Annotated[Hours, Query(description="1, 3, 6 or 24")] = Hours.one,
    source: Annotated[
        ActivitySource, Query(description="auto: InfluxDB when configured, else the database")
    ] = ActivitySource.auto,
) -> ActivityOut:
    """Cell executions and errors per minute over the last `hours`."""
    sink = app_part(request, "influx")
    influx = sink.api if sink is not None else None
    try:
        return await per_minute(engine, influx, int(hours), source)
    except ActivityUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc


@router.get(
    "/notebooks", response_model=NotebookList, response_model_by_alias=True, tags=["dashboard"]
)
async def notebooks(
    engine: EngineDep,
    hours: Annotated[float, Query(gt=0, le=24 * 365, description="window of the counts")] = 24,
) -> NotebookList:
    """Every notebook, most recently used first, with its activity in the last `hours`."""
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    return await progress.list_notebooks(engine, since)


@router.get(
    "/progress", response_model=ProgressOut, response_model_by_alias=True, tags=["dashboard"]
)
async def notebook_progress(
    engine: EngineDep,
    notebook: Annotated[str, Query(description="notebookPath")],
    team: TeamQuery = None,
) -> ProgressOut:
    """Cells x students of a notebook: not run, latest run OK, latest run failed."""
    return await progress.notebook_progress(engine, notebook, team)


@router.get(
    "/hotspots", response_model=HotspotsOut, response_model_by_alias=True, tags=["dashboard"]
)
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


LimitQuery = Annotated[int, Query(ge=1, le=500)]
CursorQuery = Annotated[str | None, Query(description="nextCursor of the previous page")]


@router.get(
    "/students/detail",
    response_model=StudentDetail,
    response_model_by_alias=True,
    tags=["dashboard"],
)
async def student_detail(
    student: Annotated[str, Query(min_length=1, description="the student's key")],
    engine: EngineDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> StudentDetail:
    """Executions, help requests and sessions of any student (ids with "/", "..", "%"...)."""
    return await _detail(engine, student, limit, cursor)


@router.get(
    "/students/{student:path}/detail",
    response_model=StudentDetail,
    response_model_by_alias=True,
    tags=["dashboard"],
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
        after = queries.decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    try:
        return await timeline.student_detail(engine, student, limit=limit, after=after)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc


@router.get("/runs", response_model=RunHistory, response_model_by_alias=True, tags=["insight"])
async def runs(
    engine: EngineDep,
    student: Annotated[str, Query(description="the student's id (any characters)")],
    notebook: Annotated[str, Query(description="notebookPath")],
    cell: Annotated[int | None, Query(ge=0, description="cellIndex")] = None,
    cell_id: Annotated[str | None, Query(alias="cellId", description="instead of cell")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
) -> RunHistory:
    """A student's runs of one cell, oldest first, each with the diff from the one before."""
    if cell is None and not cell_id:
        raise HTTPException(422, "give cell (its index) or cellId")
    try:
        after = queries.decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    try:
        return await run_history(engine, student, notebook, cell, cell_id, limit=limit, after=after)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc


@router.get("/clusters", response_model=ClustersOut, response_model_by_alias=True, tags=["insight"])
async def clusters(
    engine: EngineDep,
    notebook: Annotated[str, Query(description="notebookPath")],
    cell: Annotated[int | None, Query(ge=0, description="cellIndex")] = None,
    question: Annotated[
        str | None, Query(max_length=256, description="a test question: its answers")
    ] = None,
    team: TeamQuery = None,
) -> ClustersOut:
    """Latest attempts at a cell, or answers to a test question, grouped by code shape."""
    if (cell is None) == (question is None):
        raise HTTPException(422, "give cell (its index) or question, not both")
    if question is not None:
        return await answer_clusters(engine, notebook, question, team)
    assert cell is not None
    return await attempt_clusters(engine, notebook, cell, team)


MAX_REPLAY = timedelta(hours=12)


@router.get("/replay", response_model=ReplayOut, response_model_by_alias=True, tags=["insight"])
async def class_replay(
    engine: EngineDep,
    settings: SettingsDep,
    start: Annotated[UtcTime | None, Query(description="default: 2 h before end")] = None,
    end: Annotated[UtcTime | None, Query(description="default: now")] = None,
    notebook: Annotated[str | None, Query(description="heatmap of this notebook")] = None,
) -> ReplayOut:
    """The class between start and end, rebuilt from stored events (at most 12 h)."""
    until = end or datetime.now(timezone.utc)
    since = start or until - timedelta(hours=2)
    if not since < until or until - since > MAX_REPLAY:
        raise HTTPException(422, "start must be before end, at most 12 hours apart")
    return await replay(engine, since, until, thresholds_of(settings), notebook)


@router.get("/export/students.csv", response_class=StreamingResponse, tags=["dashboard"])
async def students_csv(
    engine: EngineDep, settings: SettingsDep, team: TeamQuery = None, notebook: NotebookQuery = None
) -> StreamingResponse:
    """Students with their live state (notebook: those last in it)."""
    filters = export.ExportFilters(team=team, notebook=notebook)
    now = datetime.now(timezone.utc)
    return csv_download(
        export.students_csv(engine, filters, now, thresholds_of(settings)), "students"
    )


@router.get("/export/executions.csv", response_class=StreamingResponse, tags=["dashboard"])
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
    return csv_download(export.executions_csv(engine, filters), "executions")


@router.get("/export/analysis.zip", response_class=FileResponse, tags=["insight"])
async def analysis_zip(
    engine: EngineDep,
    settings: SettingsDep,
    format: Annotated[Format, Query(description="csv, or parquet (needs pyarrow)")] = Format.csv,
    team: TeamQuery = None,
    notebook: NotebookQuery = None,
    since: Annotated[UtcTime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[UtcTime | None, Query(description="ISO 8601, exclusive")] = None,
) -> FileResponse:
    """Students, events and executions as files for pandas/polars (docs/analysis.md)."""
    filters = export.ExportFilters(team=team, notebook=notebook, since=since, until=until)
    work = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="cell-monitor-export-"))
    try:
        now = datetime.now(timezone.utc)
        await write_analysis(engine, work / "files", filters, format, now, thresholds_of(settings))
        target = work / "analysis.zip"
        await asyncio.to_thread(zip_directory, work / "files", target)
    except ParquetUnavailable as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise HTTPException(501, str(exc)) from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(
        target,
        media_type="application/zip",
        filename=f"cell-monitor-{format.value}-{stamp}.zip",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
