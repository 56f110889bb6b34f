"""Retention: removing what is older than a cutoff (`cell-monitor db prune`).

On PostgreSQL, month partitions that lie entirely before the cutoff are
dropped whole (no row-by-row delete, no vacuum debt); what is left before the
cutoff (the boundary month, the DEFAULT partition) is deleted in batches, as
everything is on SQLite. Batches keep each transaction short, so ingest goes on
while a prune runs. The dedup table `event_ids`, sessions last seen before the
cutoff, instructor actions taken before it and help requests closed before it
go too (an open request stays, however old).

Events the InfluxDB sink has not written yet are kept (when the sink is
configured): its saved position says which ids it has handled, and a row above
it is held back until a later prune. Whatever InfluxDB itself keeps is governed
by its own retention policy.

The per-student counters on `students` (events, executions, errors) and the
events per type of `/api/v1/stats` (event_type_counts) count everything ever
stored and are not decreased by a prune. The other report tables
(storage/report_tables.py) lose what lies before the cutoff: a cell's latest run
(latest_runs) when that run is older (its `runs`, and the edits and active time
the runs carried, keep counting older ones), when a student last ran a cell of
a notebook (notebook_students) when that is older, the
per-minute counts (execution_minutes, error_minutes) before the cutoff's minute, and a student's
hotspot entry (error_students, and with it their part of the group's counts)
when their latest such error is older; a group no student is left in goes.
A student's test outcome of a question (test_results) and their time on a cell
as engagement reported it (cell_activity) go when last updated before the cutoff
(storage/signal_tables.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, BindParameter, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.progress import NO_PROGRESS, Progress
from cell_monitor.storage import partitions, report_removal, signal_tables
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import UtcDateTime

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
INFLUX_SINK = "influxdb"  # cell_monitor.sinks.influx.sink.SINK_NAME, without importing the sink


@dataclass
class PruneReport:
    cutoff: datetime
    dry_run: bool
    partitions: list[str] = field(default_factory=list)
    events: int = 0
    executions: int = 0
    event_ids: int = 0
    sessions: int = 0
    instructor_actions: int = 0
    messages: int = 0
    message_receipts: int = 0
    message_replies: int = 0
    help_requests: int = 0
    held_back: int = 0
    report_rows: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        dropped = ", ".join(self.partitions) or "none"
        lines = [
            f"Older than {self.cutoff:%Y-%m-%d %H:%M:%S} UTC, {verb}:",
            f"  events: {self.events}",
            f"  cell executions: {self.executions}",
            f"  event ids (dedup keys): {self.event_ids}",
            f"  sessions: {self.sessions}",
            f"  instructor actions: {self.instructor_actions}",
            f"  messages: {self.messages} (receipts: {self.message_receipts}, "
            f"replies: {self.message_replies})",
            f"  help requests (closed): {self.help_requests}",
            f"  partitions dropped whole: {dropped}",
        ]
        for table, count in self.report_rows.items():
            lines.append(f"  {table.replace('_', ' ')}: {count}")
        if self.held_back:
            lines.append(
                f"  kept {self.held_back} events the InfluxDB sink has not written yet "
                "(pruned by a later run once it has)"
            )
        return lines

    def summary(self) -> str:
        """The whole result in one line."""
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"db prune: {verb} {self.events:,} events, {self.executions:,} cell executions, "
            f"{self.sessions:,} sessions, {self.instructor_actions:,} instructor actions, "
            f"{self.help_requests:,} help requests, {self.messages:,} messages "
            f"older than {self.cutoff:%Y-%m-%d}"
            + (f" ({len(self.partitions)} partitions dropped whole)" if self.partitions else "")
            + (f"; kept {self.held_back:,} for the InfluxDB sink" if self.held_back else "")
        )


async def prune(
    engine: AsyncEngine,
    settings: Settings,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: Progress = NO_PROGRESS,
) -> PruneReport:
    """Remove (or with `dry_run` count) everything older than `older_than`.

    `progress` advances by the rows removed (or counted), batch by batch.
    """
    cutoff = (now or datetime.now(timezone.utc)) - older_than
    report = PruneReport(cutoff=cutoff, dry_run=dry_run)
    pruner = _Pruner(engine, report, await _sink_hold(engine, settings), batch_rows, progress)
    if await _partitioned(engine):
        await pruner.drop_partitions()
    await pruner.delete_events()
    if await _partitioned(engine):
        await pruner.trim_event_ids()
    if not dry_run:
        async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
            report.report_rows = await report_removal.prune_before(conn, cutoff)
            report.report_rows.update(await signal_tables.prune_before(conn, cutoff))
    report.sessions = await pruner.delete_rows("sessions", "id", "last_seen")
    report.instructor_actions = await pruner.delete_rows("instructor_actions", "id", "at")
    await pruner.delete_messages()
    # Closed ones only: an open request (closed_at NULL) is what someone waits for now.
    report.help_requests = await pruner.delete_rows("help_requests", "id", "closed_at")
    log.info("Prune: %s", "; ".join(line.strip() for line in report.lines()))
    return report


async def _partitioned(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return await conn.run_sync(partitions.is_partitioned)


async def _sink_hold(engine: AsyncEngine, settings: Settings) -> int | None:
    """The highest event id that may go, when the InfluxDB sink must see the rest first."""
    if not settings.influxdb_url:
        return None
    query = text("SELECT last_event_pk FROM sink_positions WHERE name = :name")
    async with engine.connect() as conn:
        position = (await conn.execute(query, {"name": INFLUX_SINK})).scalar_one_or_none()
    return int(position or 0)


def _sql(sql: str) -> TextClause:
    """text() with its parameters typed, so SQLite compares times in its stored format."""
    names: dict[str, Any] = {"cutoff": UtcDateTime(), "until": UtcDateTime(), "hold": BigInteger()}
    params: list[BindParameter[Any]] = [
        bindparam(name, type_=kind) for name, kind in names.items() if f":{name}" in sql
    ]
    if ":ids" in sql:
        params.append(bindparam("ids", expanding=True))
    return text(sql).bindparams(*params)


class _Pruner:
    def __init__(
        self,
        engine: AsyncEngine,
        report: PruneReport,
        hold: int | None,
        batch_rows: int,
        progress: Progress,
    ) -> None:
        self.engine = engine
        self.progress = progress
        self.writer = engine.execution_options(**{WRITE_TX: True})
        self.report = report
        self.hold = hold
        self.batch = batch_rows
        self.params: dict[str, Any] = {"cutoff": report.cutoff, "hold": hold}
        self.held = "" if hold is None else " AND id <= :hold"

    async def _scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(_sql(sql), self.params if params is None else params)
            ).scalar_one()

    async def drop_partitions(self) -> None:
        """Drop the month partitions of both tables that end before the cutoff."""
        async with self.engine.connect() as conn:
            months = await conn.run_sync(partitions.month_partitions, "events")
        for month, name in sorted(months.items()):
            if partitions.add_months(month, 1) > self.report.cutoff:
                break
            newest = await self._scalar(f"SELECT max(id) FROM {name}", {})
            if self.hold is not None and newest is not None and newest > self.hold:
                break  # the sink has not written all of it; later months even less
            executions = partitions.partition_name("cell_executions", month)
            events = await self._scalar(f"SELECT count(*) FROM {name}", {})
            executions_count = await self._scalar(f"SELECT count(*) FROM {executions}", {})
            self.report.events += events
            self.report.executions += executions_count
            self.report.partitions += [executions, name]
            if self.report.dry_run:
                self.progress.advance(events + executions_count, f"partition {name}")
                continue
            async with self.writer.begin() as conn:
                await conn.execute(text(f"SET LOCAL lock_timeout = '{partitions.LOCK_TIMEOUT}'"))
                # Executions first: nothing may reference the events partition when it goes.
                await conn.execute(text(f"DROP TABLE {executions}"))
                # A partition of a referenced table is detached before it can go.
                await conn.execute(text(f"ALTER TABLE events DETACH PARTITION {name}"))
                await conn.execute(text(f"DROP TABLE {name}"))
            log.info("Dropped partitions %s and %s", executions, name)
            self.progress.advance(events + executions_count, f"dropped {name}")

    async def delete_events(self) -> None:
        """Delete the events (and their executions) left before the cutoff, in batches."""
        old = f"event_time < :cutoff{self.held}"
        if self.hold is not None:
            self.report.held_back = await self._scalar(
                "SELECT count(*) FROM events WHERE event_time < :cutoff AND id > :hold"
            )
        if self.report.dry_run:
            # Nothing was dropped: these counts include the partitions listed.
            self.report.events = await self._scalar(f"SELECT count(*) FROM events WHERE {old}")
            held = "" if self.hold is None else " AND event_pk <= :hold"
            self.report.executions = await self._scalar(
                f"SELECT count(*) FROM cell_executions WHERE event_time < :cutoff{held}"
            )
            self.progress.advance(self.report.events + self.report.executions, "events")
            return
        select_ids = _sql(f"SELECT id FROM events WHERE {old} LIMIT {self.batch}")
        # event_time in the deletes lets PostgreSQL skip the newer partitions.
        delete_executions = _sql(
            "DELETE FROM cell_executions WHERE event_pk IN :ids AND event_time < :cutoff"
        )
        delete_events = _sql("DELETE FROM events WHERE id IN :ids AND event_time < :cutoff")
        while True:
            async with self.writer.begin() as conn:
                ids = list((await conn.execute(select_ids, self.params)).scalars())
                if not ids:
                    return
                params = {"ids": ids, "cutoff": self.report.cutoff}
                executions = (await conn.execute(delete_executions, params)).rowcount
                events = (await conn.execute(delete_events, params)).rowcount
            self.report.executions += executions
            self.report.events += events
            self.progress.advance(executions + events, "events")

    async def trim_event_ids(self) -> None:
        """Dedup keys of pruned events (not of events held back for the sink)."""
        oldest_kept = await self._scalar(
            "SELECT min(event_time) FROM events WHERE event_time < :cutoff"
        )
        until = min(self.report.cutoff, oldest_kept) if oldest_kept else self.report.cutoff
        self.report.event_ids = await self._delete_before(
            "event_ids", "event_id", "event_time", until
        )

    async def delete_messages(self) -> None:
        """Messages sent before the cutoff, with their receipts and every reply to them."""
        old = "message_id IN (SELECT id FROM messages WHERE sent_at < :until)"
        self.report.message_replies = await self._delete_where("message_replies", "id", old)
        self.report.message_receipts = await self.delete_rows("message_recipients", "id", "sent_at")
        self.report.messages = await self.delete_rows("messages", "id", "sent_at")

    async def delete_rows(self, table: str, key: str, column: str) -> int:
        return await self._delete_before(table, key, column, self.report.cutoff)

    async def _delete_before(self, table: str, key: str, column: str, until: datetime) -> int:
        return await self._delete_where(table, key, f"{column} < :until", until)

    async def _delete_where(
        self, table: str, key: str, condition: str, until: datetime | None = None
    ) -> int:
        params = {"until": until or self.report.cutoff}
        if self.report.dry_run:
            count_sql = f"SELECT count(*) FROM {table} WHERE {condition}"
            counted = int(await self._scalar(count_sql, params))
            self.progress.advance(counted, table)
            return counted
        sql = _sql(
            f"DELETE FROM {table} WHERE {key} IN "
            f"(SELECT {key} FROM {table} WHERE {condition} LIMIT {self.batch})"
        )
        total = 0
        while True:
            async with self.writer.begin() as conn:
                count = (await conn.execute(sql, params)).rowcount
            total += count
            self.progress.advance(count, table)
            if count < self.batch:
                return total
