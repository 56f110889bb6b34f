"""Sent messages and their receipts in the primary store: send, list, detail, inbox, history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor.contract.messages import (
    InboxMessage,
    MessageDetail,
    MessageIn,
    MessageOut,
    Receipts,
    Recipient,
    Reply,
)
from cell_monitor.messages.render import render_markdown
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import Message, MessageRecipient, MessageReply, Student

R = MessageRecipient
# The most messages an inbox carries at once (oldest first); the rest follow as these are seen.
INBOX_LIMIT = 50


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after


class NotYours(Exception):
    """A requestId another instructor already used."""


class UnknownMessage(LookupError):
    pass


async def send(
    engine: AsyncEngine,
    message: MessageIn,
    *,
    sender: str,
    label: str,
    student_ids: Sequence[int],
    now: datetime,
    per_minute: int,
) -> tuple[str, bool]:
    """Store the message and one receipt per student: (its uid, whether it is new).

    A resent request (same requestId) stores nothing and gives the first uid.
    """
    existing = await _by_request(engine, message.request_id, sender)
    if existing is not None:
        return existing, False
    uid = str(uuid.uuid4())
    writer = engine.execution_options(**{WRITE_TX: True})
    try:
        async with writer.begin() as conn:
            await _check_rate(conn, sender, now, per_minute)
            row = {
                "uid": uid,
                "request_id": message.request_id,
                "sender": sender,
                "sent_at": now,
                "body": message.body,
                "snippet": message.snippet or None,
                "kind": message.audience.kind,
                "audience": label,
            }
            result = await conn.execute(insert(Message).values(row).returning(Message.id))
            message_id = int(result.scalar_one())
            recipients = [
                {"message_id": message_id, "student_id": s, "sent_at": now} for s in student_ids
            ]
            await conn.execute(insert(R), recipients)
    except IntegrityError:
        # The same request committed meanwhile on another worker.
        existing = await _by_request(engine, message.request_id, sender)
        if existing is None:
            raise
        return existing, False
    return uid, True


async def _by_request(engine: AsyncEngine, request_id: str, sender: str) -> str | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(Message.uid, Message.sender).where(Message.request_id == request_id)
            )
        ).one_or_none()
    if row is None:
        return None
    if row.sender != sender:
        raise NotYours(request_id)
    return str(row.uid)


async def _check_rate(conn: AsyncConnection, sender: str, now: datetime, per_minute: int) -> None:
    """Counted in the store, so the limit holds across workers."""
    if per_minute <= 0:
        return
    window = now - timedelta(minutes=1)
    stmt = select(func.count(), func.min(Message.sent_at)).where(
        Message.sender == sender, Message.sent_at > window
    )
    count, oldest = (await conn.execute(stmt)).one()
    if count >= per_minute:
        raise RateLimited(max(1.0, (oldest - window).total_seconds()))


def _receipts_query(message_ids: Sequence[int]) -> Any:
    return (
        select(
            R.message_id,
            func.count().label("recipients"),
            func.count(R.delivered_at).label("delivered"),
            func.count(R.seen_at).label("seen"),
            func.count(R.inserted_at).label("inserted"),
            func.count(R.acknowledged_at).label("acknowledged"),
            func.sum(case((R.replies > 0, 1), else_=0)).label("replied"),
        )
        .where(R.message_id.in_(list(message_ids)))
        .group_by(R.message_id)
    )


def _message_out(row: Any, receipts: Any) -> MessageOut:
    counts = Receipts(
        recipients=receipts.recipients if receipts else 0,
        delivered=receipts.delivered if receipts else 0,
        seen=receipts.seen if receipts else 0,
        inserted=receipts.inserted if receipts else 0,
        acknowledged=receipts.acknowledged if receipts else 0,
        replied=int(receipts.replied or 0) if receipts else 0,
    )
    return MessageOut(
        id=row.uid,
        sent_at=row.sent_at,
        sender=row.sender,
        body=row.body,
        body_html=render_markdown(row.body),
        snippet=row.snippet,
        kind=row.kind,
        audience=row.audience,
        receipts=counts,
    )


async def list_messages(
    engine: AsyncEngine, *, limit: int = 50, uids: Sequence[str] | None = None
) -> list[MessageOut]:
    """The latest sent messages with their receipts, newest first (or those of `uids`)."""
    stmt = select(Message).order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)
    if uids is not None:
        stmt = stmt.where(Message.uid.in_(list(uids)))
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
        if not rows:
            return []
        counts = {
            r.message_id: r for r in await conn.execute(_receipts_query([r.id for r in rows]))
        }
    return [_message_out(r, counts.get(r.id)) for r in rows]


async def detail(engine: AsyncEngine, uid: str) -> MessageDetail:
    """One message with every student it went to and what they did with it."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(Message).where(Message.uid == uid))).one_or_none()
        if row is None:
            raise UnknownMessage(uid)
        counts = (await conn.execute(_receipts_query([row.id]))).one_or_none()
        students = (
            await conn.execute(
                select(R, Student.student_key, Student.user_name, Student.team_name)
                .join(Student, Student.id == R.student_id)
                .where(R.message_id == row.id)
                .order_by(Student.user_name, Student.student_key)
            )
        ).all()
        replies = await _replies(conn, [row.id], None)
    recipients = [
        Recipient(
            student=s.student_key,
            user_name=s.user_name,
            team_name=s.team_name,
            delivered_at=s.delivered_at,
            seen_at=s.seen_at,
            inserted_at=s.inserted_at,
            acknowledged_at=s.acknowledged_at,
            replies=replies.get((row.id, s.student_id), []),
        )
        for s in students
    ]
    return MessageDetail(message=_message_out(row, counts), recipients=recipients)


async def _replies(
    conn: AsyncConnection, message_ids: Sequence[int], student_id: int | None
) -> dict[tuple[int, int], list[Reply]]:
    stmt = select(MessageReply).where(MessageReply.message_id.in_(list(message_ids)))
    if student_id is not None:
        stmt = stmt.where(MessageReply.student_id == student_id)
    out: dict[tuple[int, int], list[Reply]] = defaultdict(list)
    for r in (await conn.execute(stmt.order_by(MessageReply.at, MessageReply.id))).all():
        out[(r.message_id, r.student_id)].append(Reply(text=r.text, at=r.at))
    return out


async def _student_messages(
    conn: AsyncConnection, student_key: str, *, pending: bool, limit: int
) -> tuple[list[InboxMessage], list[int]]:
    """The student's messages and the receipt ids of those not delivered before."""
    student_id = select(Student.id).where(Student.student_key == student_key).scalar_subquery()
    stmt = select(R, Message.uid, Message.sender, Message.body, Message.snippet).join(
        Message, Message.id == R.message_id
    )
    stmt = stmt.where(R.student_id == student_id)
    if pending:
        stmt = stmt.where(R.seen_at.is_(None)).order_by(R.sent_at, R.id)
    else:
        stmt = stmt.order_by(R.sent_at.desc(), R.id.desc())
    rows = (await conn.execute(stmt.limit(limit))).all()
    if not rows:
        return [], []
    # Unseen messages have no reply yet: the inbox's reads skip the query.
    replied = [r.message_id for r in rows if r.replies]
    replies = await _replies(conn, replied, rows[0].student_id) if replied else {}
    undelivered = [r.id for r in rows if r.delivered_at is None]
    return [
        InboxMessage(
            id=r.uid,
            sent_at=r.sent_at,
            sender=_display(r.sender),
            body_html=render_markdown(r.body),
            snippet=r.snippet,
            seen_at=r.seen_at,
            inserted_at=r.inserted_at,
            acknowledged_at=r.acknowledged_at,
            replies=replies.get((r.message_id, r.student_id), []),
        )
        for r in rows
    ], undelivered


def _display(sender: str) -> str:
    # Hub accounts are stored as "hub:<name>" (accounts/users.py); students see the name.
    return sender.removeprefix("hub:")


async def pending(conn: AsyncConnection, student_key: str) -> tuple[list[InboxMessage], list[int]]:
    """The student's messages not yet seen, first to last (the inbox's `messages`),
    and the receipt ids of those never delivered before."""
    return await _student_messages(conn, student_key, pending=True, limit=INBOX_LIMIT)


async def history(
    engine: AsyncEngine, student_key: str, limit: int = 100
) -> tuple[list[InboxMessage], list[int]]:
    """Everything the student received, newest first (their message panel)."""
    async with engine.connect() as conn:
        return await _student_messages(conn, student_key, pending=False, limit=limit)


async def mark_delivered(
    engine: AsyncEngine, receipt_ids: Sequence[int], now: datetime
) -> list[str]:
    """Note that students' Jupyter servers got these messages; the uids of the messages touched."""
    if not receipt_ids:
        return []
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(
            update(R)
            .where(R.id.in_(sorted(set(receipt_ids))), R.delivered_at.is_(None))
            .values(delivered_at=now)
            .returning(R.message_id)
        )
        changed = sorted({int(pk) for pk in result.scalars()})
        if not changed:
            return []
        found = await conn.execute(select(Message.uid).where(Message.id.in_(changed)))
        return sorted(found.scalars())
