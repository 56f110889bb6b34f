"""Group commit: the events of concurrent requests share one transaction.

Each request submits its events and waits; one task takes everything queued so
far (up to `commit_max_events`), writes it in one transaction and wakes every
waiter once the commit returned. Under load, groups grow by themselves while
the previous commit is in flight, so throughput rises without a timer adding
latency when the server is idle.

With `concurrency` > 1 up to that many groups are in flight at once. Students
are spread over `BUCKETS_PER_COMMIT` times `concurrency` *buckets* (a hash of the
student key): a request's events are split by bucket and it is answered when
every part committed. A bucket is in at most one group in flight, so a
student's events are still written one group at a time, in order. While little
is waiting, one group takes every idle bucket's events: one commit, as with a
single worker, so the dozen statements a commit costs whatever its size are
paid once. Once `lane_events` or more wait, each idle worker takes its share of
them (the buckets waiting longest first, until its group holds the waiting
events divided by the idle workers), so the commits in flight are about equal:
a request waits for its slowest part, and a fixed student-to-worker hash gave
one worker 41 % of the benchmark class's events. Groups of different buckets touch
different student rows (students, sessions, latest runs, error students), so
they overlap (one builds rows in Python while another's statements run in the
database) instead of queueing on each other's row locks.

A group that fails for a reason in the data (not the database being away) is
split: each request's part is retried on its own, then each event, so one bad
event can only fail itself.
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

# Buckets per commit in flight: enough to split waiting events into near-equal
# groups, few enough that a request's parts stay a handful of objects.
BUCKETS_PER_COMMIT = 8


@dataclass
class _Request:
    """One `submit`: answered when every part of it committed."""

    events: Sequence[NewEvent]
    future: asyncio.Future[list[Outcome]]
    outcomes: list[Outcome] = field(default_factory=list)
    pending: int = 0  # events of parts not committed yet
    order: int = field(default_factory=lambda: next(_arrival))


@dataclass
class _Part:
    """The events of one request that belong to one bucket (`positions` in the request)."""

    request: _Request
    events: Sequence[NewEvent]
    positions: list[int] | None = None  # None: the whole request


@dataclass
class _Bucket:
    """The queue of the students whose key hashes to it."""

    queue: deque[_Part] = field(default_factory=deque)
    events: int = 0  # in the queue
    busy: bool = False  # part of a group being committed


@dataclass
class _Worker:
    """One commit task: commits one group at a time on its own connection."""

    # Kept from one commit to the next: a checkout from the pool is a ping
    # (BEGIN, a statement, ROLLBACK on PostgreSQL) and a reset on return, a
    # quarter of a small group's round trips. Dropped when the database fails.
    connection: AsyncConnection | None = None


def bucket_of(student_key: str, buckets: int) -> int:
    """The bucket of a student (stable across processes and restarts)."""
    return zlib.crc32(student_key.encode()) % buckets if buckets > 1 else 0


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
        self._buckets = [
            _Bucket() for _ in range(BUCKETS_PER_COMMIT * concurrency if concurrency > 1 else 1)
        ]
        self._workers = [_Worker() for _ in range(concurrency)]
        self._groups_in_flight = 0
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
        count = len(self._buckets)
        self._queued_events += len(events)
        metrics.COMMIT_QUEUE_EVENTS.set(self._queued_events)
        if not self._groups_in_flight or self._queued_events >= self._lane_events:
            # Otherwise no worker would take it yet: the commit in flight wakes them when it ends.
            self._wakeup.set()
        request = _Request(events, loop.create_future(), pending=len(events))
        if count == 1:
            self._queue(self._buckets[0], _Part(request, events))
            return await request.future
        parts: dict[int, list[int]] = {}
        for position, event in enumerate(events):
            parts.setdefault(bucket_of(event.student_key, count), []).append(position)
        if len(parts) == 1:
            ((bucket, _),) = parts.items()
            self._queue(self._buckets[bucket], _Part(request, events))
            return await request.future
        request.outcomes = [WriteOutcome.duplicate] * len(events)
        for bucket, positions in parts.items():
            part = _Part(request, [events[i] for i in positions], positions)
            self._queue(self._buckets[bucket], part)
        return await request.future

    @staticmethod
    def _queue(bucket: _Bucket, part: _Part) -> None:
        bucket.queue.append(part)
        bucket.events += len(part.events)

    async def _run(self, worker: _Worker) -> None:
        try:
            while True:
                group = self._take_group()
                if group is None:
                    if self._closing:
                        return  # what busy buckets still hold, their own worker commits
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                buckets, parts = group
                self._groups_in_flight += 1
                try:
                    await self._commit(worker, parts)
                finally:
                    self._groups_in_flight -= 1
                    for bucket in buckets:
                        bucket.busy = False
                    self._wakeup.set()  # those buckets may have more for an idle worker
        finally:
            await _release(worker)

    def _take_group(self) -> tuple[list[_Bucket], list[_Part]] | None:
        """The next group and the buckets it holds, or None when it should wait."""
        idle = [bucket for bucket in self._buckets if bucket.queue and not bucket.busy]
        if not idle:
            return None
        waiting = sum(bucket.events for bucket in idle)
        share = self._max_group
        if waiting < self._lane_events:
            if self._groups_in_flight:
                return None  # taken all at once when the commit in flight ends
        elif len(idle) > 1:
            # Enough waits for commits to overlap: this worker's share of it, the
            # buckets waiting longest first (so none starves); the rest is left
            # to the workers this wakes.
            free_workers = len(self._workers) - self._groups_in_flight
            share = min(share, -(-waiting // max(free_workers, 1)))
            idle.sort(key=lambda bucket: bucket.queue[0].request.order)
        buckets: list[_Bucket] = []
        group: list[_Part] = []
        size = 0
        for bucket in idle:
            queue = bucket.queue
            if size and (size >= share or size + len(queue[0].events) > self._max_group):
                self._wakeup.set()  # idle buckets are left for another worker
                break
            buckets.append(bucket)
            bucket.busy = True
            # The first part goes in whatever its size; then up to the limit.
            while queue and (not group or size + len(queue[0].events) <= self._max_group):
                part = queue.popleft()
                group.append(part)
                size += len(part.events)
                bucket.events -= len(part.events)
        self._queued_events -= size
        metrics.COMMIT_QUEUE_EVENTS.set(self._queued_events)
        return buckets, group

    async def _commit(self, worker: _Worker, group: list[_Part]) -> None:
        events = [e for part in group for e in part.events]
        try:
            result = await self._write(worker, events)
        except Exception as exc:
            if _is_unavailable(exc):
                log.error("Commit of %d events failed: %s", len(events), _short(exc))
                self.health.failed(describe_storage_failure(exc))
                error = StorageUnavailable(describe_storage_failure(exc))
                for part in group:
                    _fail(part, error)
                return
            log.warning(
                "A group of %d events was refused (%s); isolating", len(events), _short(exc)
            )
            await self._isolate(worker, group)
            return
        self._finish(group, events, list(result.outcomes), result.changes)

    async def _isolate(self, worker: _Worker, group: list[_Part]) -> None:
        """Commit each part alone; within a refused one, each event alone."""
        if len(group) > 1:
            for part in group:
                await self._commit(worker, [part])
            return
        part = group[0]
        outcomes: list[Outcome] = []
        changes: list[StateChange] = []
        for event in part.events:
            try:
                result = await self._write(worker, [event])
                outcomes.extend(result.outcomes)
                changes.extend(result.changes)
            except Exception as exc:
                if _is_unavailable(exc):
                    self.health.failed(describe_storage_failure(exc))
                    log.error("Commit of an event failed: %s", _short(exc))
                    _fail(part, StorageUnavailable(describe_storage_failure(exc)))
                    return
                log.info("The database refused an event: %s", _kind(exc))
                outcomes.append(Failed(f"the database refused this event: {describe_refusal(exc)}"))
        self._finish(group, list(part.events), outcomes, changes)

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
        group: list[_Part],
        events: list[NewEvent],
        outcomes: list[Outcome],
        changes: Sequence[StateChange],
    ) -> None:
        position = 0
        for part in group:
            count = len(part.events)
            _answer(part, outcomes[position : position + count])
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


def _answer(part: _Part, outcomes: list[Outcome]) -> None:
    """Record a committed part's outcomes; the request is answered with its last part."""
    request = part.request
    # The waiting request may have been cancelled (client gone), or failed by
    # another part: its events are committed all the same and a resend will be
    # reported as duplicate.
    if request.future.done():
        return
    if part.positions is None:
        request.future.set_result(outcomes)
        return
    for position, outcome in zip(part.positions, outcomes, strict=True):
        request.outcomes[position] = outcome
    request.pending -= len(outcomes)
    if not request.pending:
        request.future.set_result(request.outcomes)


def _fail(part: _Part, error: Exception) -> None:
    """A part that could not commit fails its whole request (nothing more to wait for)."""
    if not part.request.future.done():
        part.request.future.set_exception(error)


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
