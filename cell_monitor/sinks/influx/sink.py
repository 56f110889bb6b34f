"""The InfluxDB sink: committed events to InfluxDB, batched, never in ingest's way.

- Ingest never waits for it: the commit listener (`notify`) only counts events
  and may set an asyncio.Event. The sink reads committed rows back from the
  primary store in its own task, so no event data piles up in memory.
- Nothing is lost: it follows the event log by id (LogCursor) and saves its
  position in `sink_positions` only after InfluxDB acknowledged the points; a
  crash, restart or InfluxDB outage resumes where it stopped.
- Bounded memory: one batch (at most `influx_batch_points` rows, plus late rows
  found in id holes) is held at a time and retried unchanged, with exponential
  backoff, while InfluxDB is away.
- Batching: a write when `influx_batch_points` events are waiting, else every
  `influx_flush_seconds`; back to back while catching up.
- One driver among several workers (Leadership).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor import metrics
from cell_monitor.backoff import Backoff
from cell_monitor.config import Settings
from cell_monitor.domain.records import NewEvent
from cell_monitor.sinks.influx.api import InfluxApi, InfluxError
from cell_monitor.sinks.influx.batches import Point, write_points
from cell_monitor.sinks.influx.line_protocol import escape_tag
from cell_monitor.sinks.influx.points import to_line
from cell_monitor.sinks.log_cursor import LogCursor, Recheck
from cell_monitor.storage import event_log
from cell_monitor.storage.event_log import LogRow
from cell_monitor.storage.leader import Leadership

log = logging.getLogger(__name__)

SINK_NAME = "influxdb"
LEADER_RETRY_SECONDS = 5.0
LAG_PROBE_SECONDS = 2.0
LAG_PROBE_CAP = 1_000_000
DRAIN_SECONDS = 5.0
HEALTH_TIMEOUT_SECONDS = 5.0
SAVE_EVERY_FLUSHES = 5
RANGES_PER_QUERY = 100
ENCODE_CHUNK = 500


@dataclass
class _Batch:
    points: list[Point]
    new_ids: list[int]
    late_ids: list[int]
    recheck: Recheck
    recheck_complete: bool
    read_at: float
    full: bool


class InfluxSink:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        api: InfluxApi | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self.api = api or InfluxApi(settings)
        self._clock = clock
        self._leadership = Leadership(engine, SINK_NAME)
        # See log_cursor.py: SQLite makes ids visible in order, PostgreSQL does not.
        self._grace = 0.0 if engine.dialect.name == "sqlite" else settings.influx_gap_seconds
        self._cursor: LogCursor | None = None
        self._saved: int | None = None
        self._batch: _Batch | None = None
        self._backoff = Backoff(0.5, settings.influx_max_backoff_seconds)
        self._wakeup = asyncio.Event()
        self._stopped = asyncio.Event()
        self._committed = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._oldest_unwritten: datetime | None = None
        self._last_probe = float("-inf")
        self._last_save = float("-inf")
        self.problem: str | None = None
        # Erased students whose points a batch read before the erasure may still carry.
        self._erased: set[str] = set()

    def describe(self) -> str:
        return self.api.target.describe()

    @property
    def position(self) -> int | None:
        """The saved position (every event id up to it is in InfluxDB), once known."""
        return self._saved

    def notify(self, events: Sequence[NewEvent]) -> None:
        """Commit listener: counts and wakes the sink; never keeps the events."""
        self._committed += len(events)
        if self._committed >= self._settings.influx_batch_points:
            self._wakeup.set()

    def forget(self, student_key: str) -> None:
        """A student was erased: drop their points from the held batch, erase again after.

        The erasure deleted the student's events before InfluxDB's points, so no
        later read finds them; only a batch read earlier (held for retry, or being
        written right now) can still bring points back, hence the second erasure.
        """
        self._erased.add(student_key)
        if self._batch is not None:
            self._batch.points = [p for p in self._batch.points if not _tagged(p, student_key)]
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cell-monitor-influx-sink")

    async def stop(self) -> None:
        """Write what is committed (for a few seconds at most), then end."""
        self._closing = True
        self._wakeup.set()
        self._stopped.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(
                    self._task, DRAIN_SECONDS + self._settings.influx_timeout_seconds
                )
            except asyncio.TimeoutError:  # TimeoutError's alias only from 3.11
                log.warning("The InfluxDB sink did not finish in time; it resumes on restart")
        await self._leadership.release()
        await self.api.aclose()
        metrics.INFLUX_SINK_LEADER.set(0)

    async def check_health(self) -> None:
        """Raises when InfluxDB does not answer or the last write failed."""
        timeout = min(self._settings.influx_timeout_seconds, HEALTH_TIMEOUT_SECONDS)
        try:
            await asyncio.wait_for(self.api.ping(), timeout)
        except asyncio.TimeoutError as exc:
            message = f"{self.describe()} did not answer /ping within {timeout:g} s"
            raise InfluxError(message) from exc
        if self.problem:
            raise InfluxError(self.problem)

    async def _run(self) -> None:
        deadline = float("inf")
        while True:
            if self._closing:
                deadline = min(deadline, self._clock() + DRAIN_SECONDS)
            started = self._clock()
            try:
                wait = await self._step()
            except Exception as exc:
                self._failed(exc)
                if self._closing:
                    return
                await self._lag_while_failing()
                await self._pause(self._backoff.next())
                continue
            if self._closing and (wait > 0 or self._clock() > deadline):
                return
            if wait > 0:
                await self._idle(wait)
            else:
                # Catching up (a backlog after an outage): rest as long as the batch
                # took, so the sink takes at most about half of the event loop and
                # ingest requests keep the rest.
                await self._idle(min(self._clock() - started, 1.0))

    async def _step(self) -> float:
        """One read-write round; returns how long to wait before the next."""
        if not await self._lead():
            return LEADER_RETRY_SECONDS
        if self._cursor is None:
            self._saved = await event_log.load_position(self._engine, SINK_NAME)
            self._cursor = LogCursor(self._saved, self._grace)
        cursor = self._cursor
        if self._batch is None:
            self._batch = await self._read(cursor)
        batch = self._batch
        if batch.points:
            await write_points(self.api, batch.points)
        await self._erase_again()
        cursor.apply(
            batch.new_ids,
            batch.late_ids,
            batch.recheck,
            batch.read_at,
            recheck_complete=batch.recheck_complete,
        )
        self._batch = None
        if self.problem:
            log.info("InfluxDB sink writes again (%s)", self.describe())
        self.problem = None
        self._backoff.reset()
        await self._save(cursor)
        await self._measure_lag(cursor, batch.full)
        return 0.0 if batch.full else self._settings.influx_flush_seconds

    async def _erase_again(self) -> None:
        while self._erased:
            key = next(iter(self._erased))
            await self.api.delete_series("user_id", key)
            self._erased.discard(key)
            log.info("InfluxDB sink: points of an erased student removed after a write")

    async def _save(self, cursor: LogCursor) -> None:
        # Not after every batch: each save is a write transaction (an fsync on
        # SQLite) competing with ingest's commits. A crash in between costs a
        # few seconds of rewritten points, which InfluxDB overwrites.
        now = self._clock()
        every = SAVE_EVERY_FLUSHES * self._settings.influx_flush_seconds
        due = self._closing or now - self._last_save >= every
        if cursor.position != self._saved and due:
            await event_log.save_position(self._engine, SINK_NAME, cursor.position)
            self._saved, self._last_save = cursor.position, now

    async def _lead(self) -> bool:
        if self._leadership.held:
            leading = await self._leadership.confirm()
        else:
            leading = await self._leadership.acquire()
        if leading:
            metrics.INFLUX_SINK_LEADER.set(1)
            return True
        # Not (or no longer) the leader: whoever leads resumes from the saved position
        # and reports its own problems.
        self._cursor, self._batch, self._saved, self.problem = None, None, None, None
        metrics.INFLUX_SINK_LEADER.set(0)
        metrics.INFLUX_LAG_EVENTS.set(0)
        metrics.INFLUX_LAG_SECONDS.set(0)
        return False

    async def _read(self, cursor: LogCursor) -> _Batch:
        now = self._clock()
        self._committed = 0
        limit = self._settings.influx_batch_points
        new_rows: list[LogRow] = []
        if not cursor.saturated:
            new_rows = await event_log.read_after(self._engine, cursor.head, limit)
        recheck = cursor.recheck(now)
        late_rows: list[LogRow] = []
        complete = True
        for start in range(0, len(recheck.ranges), RANGES_PER_QUERY):
            chunk = recheck.ranges[start : start + RANGES_PER_QUERY]
            rows = await event_log.read_ranges(self._engine, chunk, limit)
            complete = complete and len(rows) < limit
            late_rows.extend(rows)
        if late_rows:
            log.info("%d event(s) committed late (below the head) found", len(late_rows))
        rows = new_rows + late_rows
        return _Batch(
            points=await _encode(rows),
            new_ids=[row.pk for row in new_rows],
            late_ids=[row.pk for row in late_rows],
            recheck=recheck,
            recheck_complete=complete,
            read_at=now,
            full=len(new_rows) >= limit,
        )

    async def _measure_lag(self, cursor: LogCursor, more: bool) -> None:
        if not more and self._batch is None:
            self._oldest_unwritten = None
            metrics.INFLUX_LAG_EVENTS.set(0)
            metrics.INFLUX_LAG_SECONDS.set(0)
            return
        now = self._clock()
        if now - self._last_probe >= LAG_PROBE_SECONDS:
            # Everything above the head is unwritten, including a batch held for retry.
            self._last_probe = now
            count, first = await event_log.backlog(self._engine, cursor.head, LAG_PROBE_CAP)
            metrics.INFLUX_LAG_EVENTS.set(count)
            self._oldest_unwritten = first
        self._refresh_lag_seconds()

    def _refresh_lag_seconds(self) -> None:
        if self._oldest_unwritten is None:
            return
        behind = (datetime.now(timezone.utc) - self._oldest_unwritten).total_seconds()
        metrics.INFLUX_LAG_SECONDS.set(max(0.0, behind))

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, InfluxError):
            message = str(exc)
        else:
            message = f"the sink could not read the event log: {type(exc).__name__}: {exc}"
        if message != self.problem:
            # Once per distinct problem, not once per retry.
            log.error("InfluxDB sink: %s", message, exc_info=not isinstance(exc, InfluxError))
        self.problem = message

    async def _lag_while_failing(self) -> None:
        if self._cursor is None:
            return
        try:
            await self._measure_lag(self._cursor, more=True)
        except Exception:
            log.debug("Lag probe failed", exc_info=True)

    async def _idle(self, seconds: float) -> None:
        # asyncio.TimeoutError: TimeoutError's alias only from Python 3.11.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    async def _pause(self, seconds: float) -> None:
        """Back off (new commits do not cut it short), keeping the lag gauge current."""
        end = self._clock() + seconds
        while not self._closing and (left := end - self._clock()) > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), min(left, 5.0))
            self._refresh_lag_seconds()


async def _encode(rows: Sequence[LogRow]) -> list[Point]:
    points = []
    for index, row in enumerate(rows):
        if index and index % ENCODE_CHUNK == 0:
            await asyncio.sleep(0)  # let ingest requests in between
        try:
            line = to_line(row)
        except ValueError as exc:
            metrics.INFLUX_POINTS_DROPPED.inc()
            log.warning("Event %s cannot be stored in InfluxDB (%s); skipped", row.event_id, exc)
            continue
        points.append(Point(line.encode(), row.event_id))
    return points


def _tagged(point: Point, student_key: str) -> bool:
    tag = b",user_id=" + escape_tag(student_key).encode()
    return tag + b"," in point.line or tag + b" " in point.line


def build_influx_sink(settings: Settings, engine: AsyncEngine) -> InfluxSink | None:
    """The sink when INFLUXDB_URL is set, else None."""
    return InfluxSink(settings, engine) if settings.influxdb_url else None
