"""The student's side: what they received (their message panel), through their Jupyter server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from cell_monitor.contract.messages import MessageHistory
from cell_monitor.inbox.auth import inbox_student
from cell_monitor.messages.service import MessageService

router = APIRouter(prefix="/api/v1/student", tags=["messages"])


@router.get(
    "/messages",
    response_model=MessageHistory,
    responses={
        401: {"description": "No hub token or per-student credential"},
        403: {"description": "The credential names no student (course token, open ingest)"},
    },
)
async def student_messages(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> JSONResponse:
    """Every message addressed to the student, newest first, with what they did with each."""
    state = request.app.state.cell_monitor
    # Authenticated exactly like the inbox: only a verified student reads their own.
    student = await inbox_student(request, state)
    service: MessageService = state.messages
    items = await service.history(student, limit)
    body = MessageHistory(items=items).model_dump(mode="json", by_alias=True)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
