"""Live class state over REST and WebSocket, and the instructor's actions on it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, WebSocket
from starlette.requests import HTTPConnection

from cell_monitor import metrics
from cell_monitor.accounts.guard import WS_TOO_MANY, InstructorDep
from cell_monitor.contract.live import Snapshot, StudentView
from cell_monitor.deps import app_part
from cell_monitor.live.hub import Filters
from cell_monitor.live.messages import student_view
from cell_monitor.live.service import LiveService
from cell_monitor.storage.live_store import UnknownStudent

router = APIRouter(tags=["live"])


async def get_live(connection: HTTPConnection) -> LiveService:
    live: LiveService = app_part(connection, "live")
    return live


LiveDep = Annotated[LiveService, Depends(get_live)]

TeamQuery = Annotated[str | None, Query(description="only this teamName")]
# A student id is whatever the client sent (it may hold "/", "..", "%", spaces):
# the query form carries any id; the path form takes ids with "/" too, but
# clients collapse "." and ".." path segments before sending.
StudentQuery = Annotated[str, Query(min_length=1, description="the student's key")]
NotebookQuery = Annotated[str | None, Query(description="only students last in this notebook")]


@router.get("/api/v1/live")
async def live_snapshot(
    live: LiveDep, team: TeamQuery = None, notebook: NotebookQuery = None
) -> Snapshot:
    """The class's live state: what /ws/dashboard sends first."""
    return await live.snapshot(team, notebook)


async def _act(live: LiveService, student: str, action: str, actor: str) -> StudentView:
    try:
        if action == "dismiss_help":
            state = await live.dismiss_help(student, actor)
        else:
            state = await live.handle_stuck(student, actor)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc
    return student_view(state, datetime.now(timezone.utc), live.thresholds)


@router.post("/api/v1/students/help/dismiss")
async def dismiss_help(
    student: StudentQuery, live: LiveDep, instructor: InstructorDep
) -> StudentView:
    """Close a student's open help request (all dashboards are told); any student id."""
    return await _act(live, student, "dismiss_help", instructor.username)


@router.post("/api/v1/students/stuck/handled")
async def stuck_handled(
    student: StudentQuery, live: LiveDep, instructor: InstructorDep
) -> StudentView:
    """Mark a stuck student as dealt with; their error streak starts again; any student id."""
    return await _act(live, student, "handle_stuck", instructor.username)


@router.post("/api/v1/students/{student:path}/help/dismiss")
async def dismiss_help_by_path(
    student: str, live: LiveDep, instructor: InstructorDep
) -> StudentView:
    """Close a student's open help request (all dashboards are told)."""
    return await _act(live, student, "dismiss_help", instructor.username)


@router.post("/api/v1/students/{student:path}/stuck/handled")
async def stuck_handled_by_path(
    student: str, live: LiveDep, instructor: InstructorDep
) -> StudentView:
    """Mark a stuck student as dealt with; their error streak starts again."""
    return await _act(live, student, "handle_stuck", instructor.username)


@router.websocket("/ws/dashboard")
async def dashboard_socket(
    websocket: WebSocket,
    instructor: InstructorDep,
    team: TeamQuery = None,
    notebook: NotebookQuery = None,
) -> None:
    """Snapshot, then deltas (event, student, alert) and a heartbeat every 30 s."""
    live = await get_live(websocket)
    slots = app_part(websocket, "limits").dashboards
    await websocket.accept()
    if not slots.take(instructor.username):
        metrics.RATE_LIMITED.labels("ws_connections").inc()
        await websocket.close(
            WS_TOO_MANY, "too many dashboards open (CELL_MONITOR_WS_CONNECTIONS_PER_USER)"
        )
        return
    try:
        await live.hub.serve(websocket, Filters(team=team, notebook=notebook))
    finally:
        slots.release(instructor.username)
