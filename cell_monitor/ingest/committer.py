"""Group commit: the events of concurrent requests share one transaction.

Each request submits its events and waits; one task takes everything queued so
far (up to `commit_max_events`), writes it in one transaction and wakes every
waiter once the commit returned. Under load, groups grow by themselves while
the previous commit is in flight, so throughput rises without a timer adding
latency when the server is idle.

With `concurrency` > 1 each student belongs to one of that many *lanes* (a
hash of the student key): a request's events are split by lane and it is
answered when every part committed. A lane is in at most one group in flight,
so a student's events are still written one group at a time, in order. While
little is waiting, one group takes every idle lane's events: one commit, as
with one lane, so the dozen statements a commit costs whatever its size are
paid once. Once `lane_events` or more wait, each lane commits on its own (the
one waiting longest first), up to `concurrency` transactions at once: groups
of different lanes touch different student rows (students, sessions, latest
runs, error students), so they overlap (one builds rows in Python while
another's statements run in the database) instead of queueing on each other's
row locks.

A group that fails for a reason in the data (not the database being away) is
split: each request is retried on its own, then each event, so one bad event
can only fail itself.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor import metrics
from cell_monitor.domain.live_status import LiveState
from cell_monitor.domain.records import NewEvent, WriteOutcome
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.writer import GroupResult, write_group

log = logging.getLogger(__name__)

CommitListener = Callable[[Sequence[NewEvent]], None]
StateChange = tuple[LiveState | None, LiveState]
StateListener = Callable[[Sequence[StateChange]], None]

_RETRIES = 3


class StorageUnavailable(RuntimeError):
    """The primary store could not commit; nothing of the request was acknowledged."""


class Overloaded(RuntimeError):
    """Too many events are waiting for commit; the client should retry shortly."""


@dataclass(frozen=True)
class Failed:
    """Outcome of an event the store refused (e.g. a value the database rejects)."""

    reason: str


Outcome = WriteOutcome | Failed


@dataclass
class CommitHealth:
    """The outcome of the latest commit attempt, for /health and /health/ready.

    `SELECT 1` succeeds on a full disk or a read-only database; only a commit
    tells whether events can be stored. A failure stays until a commit (or the
    health probe's write) succeeds again.
    """

    failing_since: float | None = None
    reason: str = ""
    last_success: float | None = None

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.info("Commits succeed again")
        self.failing_since = None
        self.reason = ""
        self.last_success = time.time()

    def failed(self, reason: str) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
        self.reason = reason

    def describe(self) -> str:
        """One line for /health while failing."""
        if self.failing_since is None:
            return "healthy"
        since = datetime.fromtimestamp(self.failing_since, timezone.utc).isoformat(
            timespec="seconds"
        )
        return f"unhealthy: commits failing since {since}: {self.reason}"


_arrival = itertools.count()


@dataclass
class _Submission:
    events: Sequence[NewEvent]
    future: asyncio.Future[list[Outcome]]
    order: int = field(default_factory=lambda: next(_arrival))


@dataclass
class _Lane:
    """The queue of the students whose key hashes to it."""

    queue: deque[_Submission] = field(default_factory=deque)
    events: int = 0  # in the queue
    busy: bool = False  # part of a group being committed


@dataclass
class _Worker:
    """One commit task: commits one group at a time on its own connection."""

    # Kept from one commit to the next: a checkout from the pool is a ping
    # (BEGIN, a statement, ROLLBACK on PostgreSQL) and a reset on return, a
    # quarter of a small group's round trips. Dropped when the database fails.
    connection: AsyncConnection | None = None


def lane_of(student_key: str, lanes: int) -> int:
    """The lane of a student (stable across processes and restarts)."""
    return zlib.crc32(student_key.encode()) % lanes if lanes > 1 else 0


class GroupCommitter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_group_events: int,
        max_queued_events: int,
        concurrency: int = 1,
        lane_events: int = 300,
    ) -> None:
        self._engine = engine.execution_options(**{WRITE_TX: True})
        self._max_group = max_group_events
        self._max_queued = max_queued_events
        self._listeners: list[CommitListener] = []
        self._state_listeners: list[StateListener] = []
        self._lanes = [_Lane() for _ in range(concurrency)]
        self._workers = [_Worker() for _ in range(concurrency)]
        self._lane_events = lane_events
        self._wakeup = asyncio.Event()
        self._queued_events = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.health = CommitHealth()

    @property
    def engine(self) -> AsyncEngine:
        """The engine commits use (write transactions)."""
        return self._engine

    def add_listener(self, listener: CommitListener) -> None:
        """Call `listener` with the newly stored events after each commit (must not block)."""
        self._listeners.append(listener)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call `listener` with each commit's live-state changes (must not block)."""
        self._state_listeners.append(listener)

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    def start(self) -> None:
        # Up to CELL_MONITOR_COMMIT_CONCURRENCY commits in flight; rows are
        # locked in one global order (writer.py), so they cannot deadlock.
        self._tasks = [
            asyncio.create_task(self._run(worker), name=f"cell-monitor-group-commit-{n}")
            for n, worker in enumerate(self._workers)
        ]

    async def stop(self) -> None:
        """Refuse new work, commit everything already queued, then end."""
        self._closing = True
        self._wakeup.set()
        await asyncio.gather(*self._tasks)

    async def submit(self, events: Sequence[NewEvent]) -> list[Outcome]:
        """Wait until `events` are committed; one outcome per event."""
        if self._closing or not self.running:
            raise StorageUnavailable("the server is shutting down")
        if self._queued_events + len(events) > self._max_queued:
            raise Overloaded(f"{self._queued_events} events are already waiting for commit")
        loop = asyncio.get_running_loop()
        count = len(self._lanes)
        self._queued_events += len(events)
        metrics.COMMIT_QUEUE_EVENTS.set(self._queued_events)
        if not self._committing() or self._queued_events >= self._lane_events:
            # Otherwise no worker would take it yet: the commit in flight wakes them when it ends.
            self._wakeup.set()
        if count == 1:
            single: asyncio.Future[list[Outcome]] = loop.create_future()
            self._queue(self._lanes[0], _Submission(events, single))
            return await single
        parts: dict[int, list[int]] = {}
        for position, event in enumerate(events):
            parts.setdefault(lane_of(event.student_key, count), []).append(position)
        futures = []
        for lane, positions in parts.items():
            future: asyncio.Future[list[Outcome]] = loop.create_future()
            self._queue(self._lanes[lane], _Submission([events[i] for i in positions], future))
            futures.append((positions, future))
        if len(futures) == 1:
            return await futures[0][1]
        # Every part is waited for, so a failed one leaves no other unobserved.
        answers = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        outcomes: list[Outcome] = [WriteOutcome.duplicate] * len(events)
        for (positions, _), answer in zip(futures, answers, strict=True):
            assert not isinstance(answer, BaseException)
            for position, outcome in zip(positions, answer, strict=True):
                outcomes[position] = outcome
        return outcomes

    def _committing(self) -> bool:
        """Whether a group is in flight (each holds at least one lane)."""
        return any(lane.busy for lane in self._lanes)

    @staticmethod
    def _queue(lane: _Lane, submission: _Submission) -> None:
        lane.queue.append(submission)
        lane.events += len(submission.events)

    async def _run(self, worker: _Worker) -> None:
        try:
            while True:
                group = self._take_group()
                if group is None:
                    if self._closing:
                        return  # what busy lanes still hold, their own worker commits
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                lanes, submissions = group
                try:
                    await self._commit(worker, submissions)
                finally:
                    for lane in lanes:
                        lane.busy = False
                    self._wakeup.set()  # those lanes may have more for an idle worker
        finally:
            await _release(worker)

    def _take_group(self) -> tuple[list[_Lane], list[_Submission]] | None:
        """The next group and the lanes it holds, or None when it should wait."""
        idle = [lane for lane in self._lanes if lane.queue and not lane.busy]
        if not idle:
            return None
        waiting = sum(lane.events for lane in idle)
        if waiting < self._lane_events:
            if self._committing():
                return None  # taken all at once when the commit in flight ends
        elif len(idle) > 1:
            # Enough waits for commits to overlap: one lane alone, the one waiting
            # longest (so none starves); the others are left to the workers this wakes.
            idle = [min(idle, key=lambda lane: lane.queue[0].order)]
            self._wakeup.set()
        lanes: list[_Lane] = []
        group: list[_Submission] = []
        size = 0
        for lane in idle:
            queue = lane.queue
            if size and size + len(queue[0].events) > self._max_group:
                break
            lanes.append(lane)
            lane.busy = True
            # The first submission goes in whatever its size; then up to the limit.
            while queue and (not group or size + len(queue[0].events) <= self._max_group):
                submission = queue.popleft()
                group.append(submission)
                size += len(submission.events)
                lane.events -= len(submission.events)
        self._queued_events -= size
        metrics.COMMIT_QUEUE_EVENTS.set(self._queued_events)
        return lanes, group

    async def _commit(self, worker: _Worker, group: list[_Submission]) -> None:
        events = [e for submission in group for e in submission.events]
        try:
            result = await self._write(worker, events)
        except Exception as exc:
            if _is_unavailable(exc):
                log.error("Commit of %d events failed: %s", len(events), _short(exc))
                self.health.failed(describe_storage_failure(exc))
                error = StorageUnavailable(describe_storage_failure(exc))
                for submission in group:
                    _settle(submission.future, error)
                return
            log.warning(
                "A group of %d events was refused (%s); isolating", len(events), _short(exc)
            )
            await self._isolate(worker, group)
            return
        self._finish(group, events, list(result.outcomes), result.changes)

    async def _isolate(self, worker: _Worker, group: list[_Submission]) -> None:
        """Commit each submission alone; within a refused one, each event alone."""
        if len(group) > 1:
            for submission in group:
                await self._commit(worker, [submission])
            return
        submission = group[0]
        outcomes: list[Outcome] = []
        changes: list[StateChange] = []
        for event in submission.events:
            try:
                result = await self._write(worker, [event])
                outcomes.extend(result.outcomes)
                changes.extend(result.changes)
            except Exception as exc:
                if _is_unavailable(exc):
                    self.health.failed(describe_storage_failure(exc))
                    log.error("Commit of an event failed: %s", _short(exc))
                    _settle(submission.future, StorageUnavailable(describe_storage_failure(exc)))
                    return
                log.info("The database refused an event: %s", _kind(exc))
                outcomes.append(Failed(f"the database refused this event: {describe_refusal(exc)}"))
        self._finish(group, list(submission.events), outcomes, changes)

    async def _write(self, worker: _Worker, events: Sequence[NewEvent]) -> GroupResult:
        for attempt in range(1, _RETRIES + 1):
            started = time.perf_counter()
            kept = worker.connection is not None
            try:
                if worker.connection is None:
                    worker.connection = await self._engine.connect()
                async with worker.connection.begin():
                    result = await write_group(worker.connection, events)
            except Exception as exc:
                if _is_unavailable(exc):
                    await _release(worker, failed=True)
                    if kept and attempt < _RETRIES:
                        # The kept connection may have died while idle (a database
                        # restart): once more on a fresh one, checked by the pool.
                        log.info("Commit on a kept connection failed (%s), retry", _short(exc))
                        continue
                if attempt == _RETRIES or not _is_contention(exc):
                    raise
                log.info("Commit contention (%s), retry %d", _short(exc), attempt)
                await asyncio.sleep(0.01 * attempt)
                continue
            self.health.succeeded()
            metrics.COMMIT_DURATION.observe(time.perf_counter() - started)
            metrics.COMMIT_GROUP_EVENTS.observe(len(events))
            return result
        raise AssertionError("unreachable")

    def _finish(
        self,
        group: list[_Submission],
        events: list[NewEvent],
        outcomes: list[Outcome],
        changes: Sequence[StateChange],
    ) -> None:
        position = 0
        for submission in group:
            count = len(submission.events)
            _settle(submission.future, outcomes[position : position + count])
            position += count
        stored = [
            e
            for e, outcome in zip(events, outcomes, strict=True)
            if outcome == WriteOutcome.inserted
        ]
        if not stored:
            return
        # Right after this commit's waiters, before the next commit starts: in
        # order, but not on the critical path of the requests that just committed.
        loop = asyncio.get_running_loop()
        for listener in self._listeners:
            loop.call_soon(_notify, listener, stored)
        for state_listener in self._state_listeners:
            loop.call_soon(_notify, state_listener, changes)


async def _release(worker: _Worker, *, failed: bool = False) -> None:
    """Give the worker's connection back to the pool, or discard it when it `failed`."""
    connection, worker.connection = worker.connection, None
    if connection is None:
        return
    try:
        if failed:
            # No rollback on the way back: the database may not answer at all.
            await connection.invalidate()
        await connection.close()
    except Exception as exc:
        log.debug("Closing a commit connection failed: %s", _short(exc))


def _notify(listener: Callable[[Any], None], payload: Sequence[Any]) -> None:
    try:
        listener(payload)
    except Exception:
        log.exception("Commit listener %r failed", listener)


def _settle(future: asyncio.Future[list[Outcome]], result: list[Outcome] | Exception) -> None:
    # The waiting request may have been cancelled (client gone); its events are
    # committed all the same and a resend will be reported as duplicate.
    if future.done():
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)


def _sqlstate(exc: BaseException) -> str:
    # asyncpg errors carry it; SQLAlchemy wraps them with the original in .orig.
    state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return str(state or "")


def _is_contention(exc: BaseException) -> bool:
    """Deadlock, serialization failure or a locked SQLite file: worth a retry."""
    if _sqlstate(exc) in ("40P01", "40001"):
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "deadlock" in text or "database is locked" in text


# PostgreSQL error classes caused by the rows sent: data exception, integrity
# violation, program limit exceeded (e.g. an index row over its maximum size).
_DATA_SQLSTATE_CLASSES = ("22", "23", "54")
# Python errors raised while one event's values are converted for the driver
# (an int beyond SQLite's 64 bits, text that is not UTF-8, a time out of range...).
_DATA_ERRORS = (ArithmeticError, LookupError, RecursionError, TypeError, ValueError)


def _is_unavailable(exc: BaseException) -> bool:
    """True when the database is away or failing (retry later), False when it refused the data.

    Only a database that cannot work may cost a request its events (503); an
    error about the values of the events splits the group (see _isolate) until
    the event that caused it is found and rejected alone.
    """
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    sqlstate = _sqlstate(exc)
    if sqlstate:
        # Anything else (connection, resources, shutdown, a missing table) is the database.
        return not sqlstate.startswith(_DATA_SQLSTATE_CLASSES)
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (sa_exc.DataError, sa_exc.IntegrityError)):
            return False
        if isinstance(exc, sa_exc.InterfaceError) and isinstance(exc.orig, _DATA_ERRORS):
            return False  # sqlite3: "Error binding parameter"
        return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) or not (
            isinstance(exc.orig, _DATA_ERRORS)
        )
    if isinstance(exc, sa_exc.StatementError):
        # Raised while SQLAlchemy processed the parameters, before the database saw them.
        return exc.orig is not None and _is_unavailable(exc.orig)
    if _is_driver_connection_error(exc):
        return True
    return not isinstance(exc, _DATA_ERRORS)


def _is_driver_connection_error(exc: BaseException) -> bool:
    # asyncpg's DataError ("invalid input for query argument") is an InterfaceError
    # and a ValueError: about the data. Its other InterfaceErrors are the connection.
    module = type(exc).__module__
    if not module.startswith("asyncpg"):
        return False
    return not isinstance(exc, ValueError)


def describe_storage_failure(exc: BaseException) -> str:
    """Why a commit failed, in words for operators and clients.

    The database's own message (table names, SQL, file paths) goes to the
    server log only; answers and /health carry this category.
    """
    text = _short(exc).lower()
    sqlstate = _sqlstate(exc)
    if isinstance(exc, TimeoutError):
        return "the database did not answer in time"
    if "disk is full" in text or "no space left" in text or sqlstate.startswith("53"):
        return "the database's disk is full"
    if "readonly" in text or "read-only" in text or sqlstate == "25006":
        return "the database is read-only"
    if isinstance(exc, OSError) or sqlstate.startswith("08") or "connect" in text:
        return "the database is unreachable"
    return "the database did not commit"


def describe_refusal(exc: BaseException) -> str:
    """Why the database refused one event's data, without its message (values, SQL, names)."""
    sqlstate = _sqlstate(exc)
    orig = getattr(exc, "orig", None) or exc
    if sqlstate.startswith("22") or isinstance(orig, OverflowError):
        reason = "a value is out of range or of the wrong type"
    elif sqlstate.startswith("23") or isinstance(exc, sa_exc.IntegrityError):
        reason = "a value breaks a constraint of the table"
    elif sqlstate.startswith("54"):
        reason = "a value is too large to store or index"
    else:
        reason = "a value cannot be stored"
    return f"{reason} (SQLSTATE {sqlstate})" if sqlstate else reason


def _kind(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    sqlstate = _sqlstate(exc)
    return f"{type(orig).__name__}" + (f" SQLSTATE {sqlstate}" if sqlstate else "")


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
