"""GET /api/v1/student/inbox: the student's own inbox, long-polled by their Jupyter server."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from cell_monitor import metrics
from cell_monitor.accounts.ratelimit import retry_after_header
from cell_monitor.contract.inbox import StudentInbox
from cell_monitor.inbox.auth import inbox_student
from cell_monitor.inbox.service import InboxService, TooManyPolls

router = APIRouter(prefix="/api/v1/student", tags=["inbox"])

MAX_WAIT_SECONDS = 30.0


@router.get(
    "/inbox",
    response_model=StudentInbox,
    responses={
        401: {"description": "No hub token or per-student credential"},
        403: {"description": "The credential names no student (course token, open ingest)"},
        429: {"description": "Too many requests or open long-polls of this student"},
        503: {"description": "JupyterHub or the database unavailable"},
    },
)
async def student_inbox(
    request: Request,
    since: Annotated[
        str | None, Query(max_length=64, description="The etag the client holds.")
    ] = None,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_SECONDS, description="Seconds to hold the request.")
    ] = 0.0,
) -> Response:
    """The student's help request and pending messages; held until they differ from `since`."""
    state = request.app.state.cell_monitor
    student = await inbox_student(request, state)
    inbox: InboxService = state.inbox
    delay = inbox.limiter.acquire(student)
    if delay > 0:
        metrics.RATE_LIMITED.labels("inbox").inc()
        return _refusal(429, "too many inbox requests (CELL_MONITOR_INBOX_RATE_PER_SECOND)", delay)
    try:
        answer = await _unless_disconnected(request, inbox.poll(student, since, wait))
    except TooManyPolls as exc:
        metrics.RATE_LIMITED.labels("inbox").inc()
        return _refusal(429, str(exc), 1.0)
    if answer is None:  # the client went away: nobody to answer
        return Response(status_code=499)
    metrics.INBOX_ANSWERS.labels("unchanged" if answer.etag == since else "changed").inc()
    return JSONResponse(
        answer.model_dump(mode="json", by_alias=True),
        headers={"ETag": f'"{answer.etag}"', "Cache-Control": "no-store"},
    )


async def _unless_disconnected(
    request: Request, poll: Coroutine[Any, Any, StudentInbox]
) -> StudentInbox | None:
    """The poll's answer, or None as soon as the client disconnects.

    A relay that restarts (or a benchmark that stops) would otherwise leave its
    long-poll counted against the student's limit until `wait` ends.
    """
    waiting = asyncio.ensure_future(poll)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, gone):
            if not task.done():
                task.cancel()
        await asyncio.gather(waiting, gone, return_exceptions=True)
    return waiting.result() if not waiting.cancelled() else None


async def _disconnected(request: Request) -> None:
    # A GET has no body: the next ASGI message is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _refusal(status: int, detail: str, retry_after: float) -> JSONResponse:
    metrics.INBOX_ANSWERS.labels("refused").inc()
    return JSONResponse(
        {"detail": detail},
        status_code=status,
        headers={"Retry-After": retry_after_header(retry_after)},
    )
