"""The instructors' help API: the queue, claims ("on my way"), dismissal, wait figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from cell_monitor import metrics
from cell_monitor.accounts.guard import InstructorDep
from cell_monitor.accounts.ratelimit import RateLimiter, retry_after_header
from cell_monitor.accounts.users import Instructor
from cell_monitor.contract.events import UtcTime
from cell_monitor.contract.inbox import HelpQueue, HelpStats
from cell_monitor.contract.live import StudentView
from cell_monitor.deps import EngineDep, app_part
from cell_monitor.domain.live_status import LiveState
from cell_monitor.downloads import csv_download
from cell_monitor.help import csv_export
from cell_monitor.help.service import ClaimedByOther, HelpService, NoOpenRequest
from cell_monitor.live.messages import student_view
from cell_monitor.storage.live_store import UnknownStudent

router = APIRouter(prefix="/api/v1/help", tags=["help"])
export_router = APIRouter(prefix="/api/v1/export", tags=["help"])

StudentQuery = Annotated[str, Query(min_length=1, description="the student's key")]


async def get_help(connection: HTTPConnection) -> HelpService:
    service: HelpService = app_part(connection, "help")
    return service


HelpDep = Annotated[HelpService, Depends(get_help)]


def _limit(service: HelpService, instructor: Instructor) -> None:
    limiter: RateLimiter = service.action_limiter
    wait = limiter.acquire(instructor.username)
    if wait > 0:
        metrics.RATE_LIMITED.labels("help_actions").inc()
        raise HTTPException(
            429,
            "too many help actions (CELL_MONITOR_HELP_CLAIMS_PER_MINUTE)",
            headers={"Retry-After": retry_after_header(wait)},
        )


def _view(service: HelpService, state: LiveState) -> StudentView:
    return student_view(state, datetime.now(timezone.utc), service.live.thresholds)


@router.get("/queue")
async def help_queue(service: HelpDep, instructor: InstructorDep) -> HelpQueue:
    """Open requests oldest first, with waits, who handles each, and the caller's own."""
    return await service.queue(instructor, await service.teams_of(instructor))


@router.post("/claim", responses={404: {}, 409: {"description": "Claimed by another"}})
async def claim(
    student: StudentQuery,
    service: HelpDep,
    instructor: InstructorDep,
    take_over: Annotated[bool, Query(alias="takeOver")] = False,
) -> StudentView:
    """Say "on my way" for a student's open request (the student sees who is coming)."""
    _limit(service, instructor)
    try:
        state = await service.claim(student, instructor, take_over)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc
    except NoOpenRequest as exc:
        raise HTTPException(409, "the student has no open help request") from exc
    except ClaimedByOther as exc:
        raise HTTPException(409, f"{exc}; send takeOver=true to take it over") from exc
    return _view(service, state)


@router.post("/release", responses={404: {}, 409: {}})
async def release(
    student: StudentQuery, service: HelpDep, instructor: InstructorDep
) -> StudentView:
    """Nobody is on the way after all: the request waits again in its place."""
    _limit(service, instructor)
    try:
        state = await service.release(student, instructor)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc
    except NoOpenRequest as exc:
        raise HTTPException(409, "the student has no open help request") from exc
    return _view(service, state)


@router.post("/dismiss", responses={404: {}})
async def dismiss(
    student: StudentQuery, service: HelpDep, instructor: InstructorDep
) -> StudentView:
    """Close the request ("Closed by the instructor") until the student asks again."""
    _limit(service, instructor)
    try:
        state = await service.dismiss(student, instructor)
    except UnknownStudent as exc:
        raise HTTPException(404, f"no student {student!r}") from exc
    return _view(service, state)


@router.get("/stats")
async def help_stats(service: HelpDep) -> HelpStats:
    """Median and longest wait today (UTC) and per class session."""
    return await service.stats()


@export_router.get("/help.csv", response_class=StreamingResponse)
async def help_csv(
    engine: EngineDep,
    since: Annotated[UtcTime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[UtcTime | None, Query(description="ISO 8601, exclusive")] = None,
) -> StreamingResponse:
    """Help requests (default: the last 14 days) with state, claim and wait of each."""
    now = datetime.now(timezone.utc)
    start = since or now - csv_export.DEFAULT_WINDOW
    end = until or now
    return csv_download(csv_export.requests_csv(engine, start, end, now), "help-requests")


@export_router.get("/help-sessions.csv", response_class=StreamingResponse)
async def help_sessions_csv(service: HelpDep) -> StreamingResponse:
    """Wait figures per class session (median, longest), newest first."""
    stats = await service.stats()

    async def body() -> AsyncIterator[str]:
        yield csv_export.sessions_csv(stats)

    return csv_download(body(), "help-sessions")
