"""A student's answers to messages (seen, inserted, got it, reply), in the events' transaction.

They arrive as events on the ingest path (at least once from the student's
Jupyter server, stored once by eventId), so a receipt is durable exactly when
its event is. Only the sender's own receipt row changes: an event naming a
message that was not addressed to its student changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.contract.events import EventType
from cell_monitor.contract.messages import MAX_REPLY_CHARS
from cell_monitor.domain.records import NewEvent
from cell_monitor.storage.models import Message, MessageRecipient, MessageReply

MESSAGE_EVENTS = frozenset(
    {
        EventType.message_seen.value,
        EventType.message_inserted.value,
        EventType.message_acknowledged.value,
        EventType.message_reply.value,
    }
)
# Replies one student may send to one message: a conversation is for a chat tool.
MAX_REPLIES_PER_MESSAGE = 20

R = MessageRecipient
# Which receipt column each action sets (the first time only); every action means "seen".
_COLUMN = {
    EventType.message_inserted.value: "inserted_at",
    EventType.message_acknowledged.value: "acknowledged_at",
}


def message_uid(event: NewEvent) -> str | None:
    return event.message_id or None


def reply_text(event: NewEvent) -> str | None:
    value = (event.reply_text or "").strip()
    return value[:MAX_REPLY_CHARS] or None


async def record(
    conn: AsyncConnection, events: Sequence[NewEvent], student_ids: dict[str, int]
) -> list[str]:
    """Apply the stored message events to their receipts; the uids of the messages touched."""
    actions = [e for e in events if e.event_type in MESSAGE_EVENTS and message_uid(e)]
    if not actions:
        return []
    uids = sorted({uid for e in actions if (uid := message_uid(e)) is not None})
    found = await conn.execute(select(Message.uid, Message.id).where(Message.uid.in_(uids)))
    message_ids = {uid: pk for uid, pk in found.all()}
    touched: set[str] = set()
    # A fixed order of rows (message, student), so concurrent commits cannot deadlock.
    ordered = sorted(actions, key=lambda e: (message_uid(e) or "", e.student_key, e.event_id))
    for event in ordered:
        uid = message_uid(event)
        if uid is None or uid not in message_ids:
            continue
        if await _apply(conn, event, message_ids[uid], student_ids[event.student_key]):
            touched.add(uid)
    return sorted(touched)


async def _apply(conn: AsyncConnection, event: NewEvent, message_id: int, student_id: int) -> bool:
    """One action on the (message, student) receipt; False when there is no such receipt."""
    at = event.live_time
    values = {"seen_at": _earliest(R.seen_at, at), "delivered_at": _earliest(R.delivered_at, at)}
    column = _COLUMN.get(event.event_type)
    if column is not None:
        values[column] = _earliest(getattr(R, column), at)
    mine = and_(R.message_id == message_id, R.student_id == student_id)
    # One statement for the common actions (a send to 200 students brings 200 of them).
    row = (await conn.execute(update(R).where(mine).values(values).returning(R.id))).one_or_none()
    if row is None:
        return False
    text = reply_text(event) if event.event_type == EventType.message_reply.value else None
    if text is not None:
        counted = await conn.execute(
            update(R)
            .where(R.id == row.id, R.replies < MAX_REPLIES_PER_MESSAGE)
            .values(replies=R.replies + 1)
            .returning(R.id)
        )
        if counted.one_or_none() is not None:
            await conn.execute(
                insert(MessageReply).values(
                    message_id=message_id, student_id=student_id, at=at, text=text
                )
            )
    return True


def _earliest(column: Any, at: datetime) -> Any:
    # The earliest time wins: a late resend of an old action keeps its own time.
    return case((or_(column.is_(None), column > at), at), else_=column)
