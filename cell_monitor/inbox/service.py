"""Long-polls of the students' inboxes, woken through the broker from any worker.

Whatever changes something addressed to a student (a help event's commit, an
instructor's claim or dismissal, a message) calls `announce` with the
student's key after its commit; the broker channel (`student-inbox`) carries
only keys, and every worker wakes its own waiters for them. Nothing polls the
database while a student waits: a waiter holds a future, not a connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor import metrics
from cell_monitor.accounts.ratelimit import RateLimiter
from cell_monitor.broker.base import Broker, Message
from cell_monitor.config import Settings
from cell_monitor.contract.inbox import OPEN_STATES, StudentInbox
from cell_monitor.domain.live_status import LiveState
from cell_monitor.inbox.known import KnownInboxes
from cell_monitor.inbox.parts import InboxParts
from cell_monitor.inbox.waiters import Waiter, Waiters
from cell_monitor.storage.help_rows import help_changed

log = logging.getLogger(__name__)


# The others in the help line hear that their place moved at most this often.
QUEUE_COALESCE_SECONDS = 1.0


class TooManyPolls(RuntimeError):
    """The student (or this worker) holds as many long-polls as allowed."""


class InboxService:
    def __init__(self, settings: Settings, engine: AsyncEngine, broker: Broker) -> None:
        self.settings = settings
        self.broker = broker
        self.parts = InboxParts(engine)
        self.waiters = Waiters()
        self.limiter = RateLimiter(settings.inbox_rate_per_second, settings.inbox_burst)
        self._closing = asyncio.Event()
        self.known = KnownInboxes()
        self._line_moved: asyncio.TimerHandle | None = None
        self._line_tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.broker.start(self._dispatch)

    async def stop(self) -> None:
        # Waiting polls answer now (with what they hold) instead of holding shutdown.
        self._closing.set()
        if self._line_moved is not None:
            self._line_moved.cancel()
        self.waiters.wake_all()
        await asyncio.gather(*self._line_tasks, return_exceptions=True)
        await self.broker.stop()

    def announce(self, students: Iterable[str], *, queue: bool = False) -> None:
        """Something addressed to `students` changed (committed); `queue`: the help line moved."""
        keys = sorted(set(students))
        if keys or queue:
            self.broker.publish([{"type": "inbox", "students": keys, "queue": queue}])

    def on_changes(self, changes: Sequence[tuple[LiveState | None, LiveState]]) -> None:
        """Commit (or action) listener: help states that changed wake their students.

        The others in line are woken only when a request left the line or its
        claim changed (their places move); a new request joins at the back.
        """
        keys: list[str] = []
        queue = False
        for before, after in changes:
            if help_changed(before, after):
                keys.append(after.student)
                queue = queue or (before is not None and before.help_since is not None)
        if keys:
            self.announce(keys, queue=queue)

    async def _dispatch(self, batch: Sequence[Message] | None) -> None:
        if batch is None:
            self.known.clear()
            self.waiters.wake_all()  # messages may have been lost: everyone checks
            return
        students: set[str] = set()
        queue = False
        for message in batch:
            if message.get("type") == "inbox":
                students.update(message.get("students") or ())
                queue = queue or bool(message.get("queue"))
        self.known.forget(students, line_moved=queue)
        # The students whose own request changed first, at once...
        await self._wake(self.waiters.to_wake(students))
        # ...the rest of the line (their places moved) at most once per
        # QUEUE_COALESCE_SECONDS: a busy desk claiming twice a second would
        # otherwise answer every waiting student's long-poll twice a second.
        if queue and self._line_moved is None and not self._closing.is_set():
            self._line_moved = asyncio.get_running_loop().call_later(
                QUEUE_COALESCE_SECONDS, self._start_line_wake
            )

    def _start_line_wake(self) -> None:
        self._line_moved = None
        task = asyncio.create_task(self._wake_line(), name="cell-monitor-inbox-line")
        self._line_tasks.add(task)
        task.add_done_callback(self._line_tasks.discard)

    async def _wake_line(self) -> None:
        try:
            await self._wake(self.waiters.to_wake((), queue=True))
        except Exception:
            log.exception("Waking the students in the help line failed")

    async def _wake(self, woken: list[Waiter]) -> None:
        if len(woken) > 1:
            # Many at once: their inboxes in one read, not one each.
            generation = self.known.generation
            try:
                fresh = await self.parts.gather_many({w.student for w in woken})
            except Exception as exc:  # each waiter then reads its own
                log.warning("Reading %d inboxes at once failed: %s", len(woken), exc)
                fresh = {}
            for student, inbox in fresh.items():
                self.known.put(student, inbox, generation)
            for waiter in woken:
                waiter.fresh = fresh.get(waiter.student)
        for waiter in woken:
            waiter.woken.set()
        metrics.INBOX_WAKEUPS.inc(len(woken))

    async def _read(self, student: str) -> StudentInbox:
        generation = self.known.generation
        inbox = await self.parts.gather(student)
        self.known.put(student, inbox, generation)
        return inbox

    async def poll(self, student: str, since: str | None, wait: float) -> StudentInbox:
        """The inbox at once if its etag is not `since`, else when it changes or `wait` ends."""
        if self.waiters.count(student) >= self.settings.inbox_polls_per_student:
            raise TooManyPolls(
                f"{self.settings.inbox_polls_per_student} long-polls of this student are open "
                "(CELL_MONITOR_INBOX_POLLS_PER_STUDENT)"
            )
        if len(self.waiters) >= self.settings.inbox_max_waiting:
            raise TooManyPolls(
                f"{self.settings.inbox_max_waiting} long-polls are open on this worker "
                "(CELL_MONITOR_INBOX_MAX_WAITING)"
            )
        # Registered before reading, so a change committed meanwhile still wakes it.
        waiter = self.waiters.add(student, in_queue=False)
        metrics.INBOX_WAITING.inc()
        try:
            return await self._wait(waiter, since, wait)
        finally:
            self.waiters.remove(waiter)
            metrics.INBOX_WAITING.dec()

    async def _wait(self, waiter: Waiter, since: str | None, wait: float) -> StudentInbox:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            waiter.woken.clear()
            fresh, waiter.fresh = waiter.fresh, None
            inbox = fresh or self.known.get(waiter.student) or await self._read(waiter.student)
            waiter.in_queue = inbox.help is not None and inbox.help.state in OPEN_STATES
            left = deadline - loop.time()
            if inbox.etag != since or left <= 0 or self._closing.is_set():
                return inbox
            try:
                await asyncio.wait_for(waiter.woken.wait(), left)
            except TimeoutError:
                return inbox
