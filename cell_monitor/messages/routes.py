"""The instructor's side: send a message, list sent ones with receipts, one in detail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from cell_monitor import metrics
from cell_monitor.accounts.guard import InstructorDep
from cell_monitor.accounts.ratelimit import retry_after_header
from cell_monitor.contract.messages import MessageDetail, MessageIn, MessageList, MessageOut
from cell_monitor.deps import EngineDep, app_part
from cell_monitor.messages import store
from cell_monitor.messages.audience import EmptyAudience
from cell_monitor.messages.service import MessageService

router = APIRouter(prefix="/api/v1", tags=["messages"])


async def get_messages(connection: HTTPConnection) -> MessageService:
    service: MessageService = app_part(connection, "messages")
    return service


MessagesDep = Annotated[MessageService, Depends(get_messages)]


@router.post(
    "/messages",
    status_code=201,
    response_model=MessageOut,
    response_model_by_alias=True,
    responses={
        200: {"description": "The same requestId was sent before: nothing new is stored"},
        409: {"description": "Another instructor's requestId"},
        422: {"description": "Invalid, or the audience names nobody"},
        429: {"description": "Over CELL_MONITOR_MESSAGES_PER_MINUTE"},
    },
)
async def send_message(
    message: MessageIn, service: MessagesDep, instructor: InstructorDep
) -> JSONResponse:
    """Send a message (Markdown, optionally a code snippet) to the students of an audience."""
    try:
        out, new = await service.send(message, instructor.username)
    except EmptyAudience as exc:
        raise HTTPException(422, str(exc)) from exc
    except store.NotYours as exc:
        raise HTTPException(409, "this requestId was used by another instructor") from exc
    except store.RateLimited as exc:
        metrics.RATE_LIMITED.labels("messages").inc()
        return JSONResponse(
            {"detail": "too many messages (CELL_MONITOR_MESSAGES_PER_MINUTE)"},
            status_code=429,
            headers={"Retry-After": retry_after_header(exc.retry_after)},
        )
    return JSONResponse(out.model_dump(mode="json", by_alias=True), status_code=201 if new else 200)


@router.get("/messages", response_model=MessageList, response_model_by_alias=True)
async def list_messages(
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ids: Annotated[list[str] | None, Query(description="only these messages")] = None,
) -> MessageList:
    """Sent messages with their receipts ("seen by 31 of 46"), newest first."""
    return MessageList(items=await store.list_messages(engine, limit=limit, uids=ids))


@router.get("/messages/detail", response_model=MessageDetail, response_model_by_alias=True)
async def message_detail(
    engine: EngineDep, message_id: Annotated[str, Query(alias="id", min_length=1)]
) -> MessageDetail:
    """One message: each of its students and what they did with it, replies included."""
    try:
        return await store.detail(engine, message_id)
    except store.UnknownMessage as exc:
        raise HTTPException(404, f"no message {message_id!r}") from exc
