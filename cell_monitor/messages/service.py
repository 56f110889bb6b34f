"""Sending messages and telling everyone who needs to know: dashboards and students' inboxes.

After a send commits, every worker's dashboards hear of it (a `messages_changed`
live message through the broker) and the inboxes of its students are woken;
when a student's answer (an event) commits, the dashboards hear of it too.
"""

from __future__ import annotations

import asyncio
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
# How long deliveries are gathered before they are written (the "delivered" time's precision).
DELIVERY_FLUSH_SECONDS = 0.2


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MessageService:
    def __init__(self, settings: Settings, engine: AsyncEngine, broker: Broker) -> None:
        self.settings = settings
        self.engine = engine
        self.broker = broker
        self.thresholds = thresholds_of(settings)
        self._wakers: list[InboxWaker] = []
        # Receipts handed out but not yet marked delivered: one write per flush,
        # not one per student (a send to 200 students wakes 200 long-polls).
        self._undelivered: set[int] = set()
        self._flush_wanted = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(), name="cell-monitor-deliveries")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await self._flush()

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

    async def _delivered(self, student: str, receipt_ids: Sequence[int]) -> None:
        if not receipt_ids:
            return
        self._undelivered.update(receipt_ids)
        if self._flusher is None:
            await self._flush()  # not started (a command, a test): at once
        else:
            self._flush_wanted.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_wanted.wait()
            # Gather the long-polls one send wakes into one write.
            await asyncio.sleep(DELIVERY_FLUSH_SECONDS)
            self._flush_wanted.clear()
            try:
                await self._flush()
            except Exception as exc:  # the receipts wait for the next flush
                log.warning("Marking messages delivered failed: %s", exc)

    async def _flush(self) -> None:
        ids, self._undelivered = sorted(self._undelivered), set()
        if not ids:
            return
        try:
            changed = await store.mark_delivered(self.engine, ids, _now())
        except Exception:
            self._undelivered.update(ids)
            raise
        if changed:
            self._changed(changed)

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
