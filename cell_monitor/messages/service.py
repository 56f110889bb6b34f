"""Sending messages and telling everyone who needs to know: dashboards and students' inboxes.

After a send commits, every worker's dashboards hear of it (a `messages_changed`
live message through the broker) and the inboxes of its students are woken;
when a student's answer (an event) commits, the dashboards hear of it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor import metrics
from cell_monitor.broker.base import Broker
from cell_monitor.config import Settings
from cell_monitor.contract.live import MessagesChanged, to_wire
from cell_monitor.contract.messages import InboxMessage, MessageIn, MessageOut
from cell_monitor.domain.live_status import thresholds_of
from cell_monitor.domain.records import NewEvent
from cell_monitor.messages import audience, store
from cell_monitor.storage.message_receipts import MESSAGE_EVENTS, message_uid

log = logging.getLogger(__name__)

# Called with the keys of students whose inbox changed (the inbox wakes their long-polls).
InboxWaker = Callable[[Sequence[str]], None]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MessageService:
    def __init__(self, settings: Settings, engine: AsyncEngine, broker: Broker) -> None:
        self.settings = settings
        self.engine = engine
        self.broker = broker
        self.thresholds = thresholds_of(settings)
        self._wakers: list[InboxWaker] = []

    def add_inbox_waker(self, waker: InboxWaker) -> None:
        self._wakers.append(waker)

    async def send(self, message: MessageIn, sender: str) -> tuple[MessageOut, bool]:
        """Resolve the audience, store the message, tell dashboards and inboxes."""
        now = _now()
        resolved = await audience.resolve(self.engine, message.audience, self.thresholds, now)
        uid, new = await store.send(
            self.engine,
            message,
            sender=sender,
            label=resolved.label,
            student_ids=resolved.student_ids,
            now=now,
            per_minute=self.settings.messages_per_minute,
        )
        if new:
            metrics.MESSAGES_SENT.labels(message.audience.kind).inc()
            metrics.MESSAGE_RECIPIENTS.inc(len(resolved.student_ids))
            log.info(
                "Message sent",
                extra={"kind": message.audience.kind, "recipients": len(resolved.student_ids)},
            )
            self._changed([uid])
            for wake in self._wakers:
                wake(resolved.student_keys)
        (out,) = await store.list_messages(self.engine, uids=[uid], limit=1)
        return out, new

    async def inbox_part(self, conn: AsyncConnection, student: str) -> list[InboxMessage]:
        """The inbox's messages: the student's unseen ones, first to last.

        Those handed out for the first time are marked delivered (the receipts'
        "not reached yet" count drops) and the dashboards are told.
        """
        items, undelivered = await store.pending(conn, student)
        await self._delivered(student, undelivered)
        return items

    async def history(self, student: str, limit: int) -> list[InboxMessage]:
        """Everything the student received, newest first (their message panel)."""
        items, undelivered = await store.history(self.engine, student, limit)
        await self._delivered(student, undelivered)
        return items

    async def _delivered(self, student: str, uids: Sequence[str]) -> None:
        if uids:
            newly = await store.mark_delivered(self.engine, student, uids, _now())
            if newly:
                self._changed(newly)

    def _changed(self, uids: Sequence[str]) -> None:
        self.broker.publish(to_wire([MessagesChanged(message_ids=sorted(set(uids)))]))

    # Commit listener: runs in the commit task, so it only builds and queues.
    def on_events(self, events: Sequence[NewEvent]) -> None:
        uids = [uid for e in events if e.event_type in MESSAGE_EVENTS and (uid := message_uid(e))]
        if uids:
            self._changed(uids)
            students = sorted({e.student_key for e in events if e.event_type in MESSAGE_EVENTS})
            for wake in self._wakers:
                wake(students)
