"""Erasing a student everywhere: primary store, live state, InfluxDB.

Order matters: the primary store first (one transaction), so the InfluxDB sink,
which reads committed events back from it, can no longer produce the student's
points; then the live message that makes every worker's dashboards drop the
student and the leading sink forget points it still holds; then InfluxDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Delete, and_, delete, exists, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.contract.live import StudentRemoved, to_wire
from cell_monitor.privacy.export import (
    messages_of,
    notebooks_of,
    student_ids,
    student_keys_stored,
)
from cell_monitor.privacy.pseudonyms import is_pseudonym
from cell_monitor.progress import NO_PROGRESS, Progress
from cell_monitor.sinks.influx.api import InfluxApi, InfluxError
from cell_monitor.sinks.influx.points import CELL_EXECUTION, STUDENT_EVENT
from cell_monitor.storage import notebook_guard, report_removal
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import (
    CellActivityRow,
    CellExecution,
    Event,
    HelpRequest,
    InstructorAction,
    LearningSession,
    Message,
    MessageRecipient,
    MessageReply,
    Notebook,
    Student,
    StudentCredential,
    TestResultRow,
)

log = logging.getLogger(__name__)

INFLUX_TAG = "user_id"


@dataclass
class ErasureReport:
    """What was deleted where (counts per table / measurement)."""

    student_keys: list[str] = field(default_factory=list)
    database: dict[str, int] = field(default_factory=dict)
    influxdb: dict[str, int] | None = None
    influxdb_error: str | None = None
    live: str = ""


async def _count_and_delete(conn: AsyncConnection, stmt: Delete) -> int:
    result = await conn.execute(stmt)
    return int(result.rowcount or 0)


async def erase_from_database(
    engine: AsyncEngine, keys: Iterable[str], progress: Progress = NO_PROGRESS
) -> tuple[list[str], dict[str, int]]:
    """Delete the students stored under `keys` from every table; the keys found and counts."""
    keys = list(keys)
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        if conn.dialect.name == "sqlite":
            # Overwrite deleted rows with zeros instead of leaving them in free space.
            await conn.exec_driver_sql("PRAGMA secure_delete = ON")
        # Before any row lock: no write group may name a notebook deleted below.
        await notebook_guard.erasing_students(conn)
        ids = await student_ids(conn, keys)
        found = list(
            (await conn.execute(select(Student.student_key).where(Student.id.in_(ids)))).scalars()
        )
        notebook_ids = list(
            (await conn.execute(select(Notebook.id).where(notebooks_of(ids)))).scalars()
        )
        message_ids = list((await conn.execute(messages_of(ids))).scalars())
        counts: dict[str, int] = {}
        if conn.dialect.name == "postgresql":
            counts["event_ids"] = await _delete_dedup_keys(conn, ids)
        progress.advance(1, "event_ids")
        # While their events are still there to say what to subtract.
        counts.update(await report_removal.remove_students(conn, ids))
        # Children first, each table by itself: explicit counts are the report, and
        # on PostgreSQL the event log has no key to students to cascade (revision 0018).
        for name, stmt in (
            ("message_replies", delete(MessageReply).where(MessageReply.student_id.in_(ids))),
            (
                "message_recipients",
                delete(MessageRecipient).where(MessageRecipient.student_id.in_(ids)),
            ),
            ("test_results", delete(TestResultRow).where(TestResultRow.student_id.in_(ids))),
            ("cell_activity", delete(CellActivityRow).where(CellActivityRow.student_id.in_(ids))),
            ("cell_executions", delete(CellExecution).where(CellExecution.student_id.in_(ids))),
            ("events", delete(Event).where(Event.student_id.in_(ids))),
            (
                "instructor_actions",
                delete(InstructorAction).where(InstructorAction.student_id.in_(ids)),
            ),
            ("help_requests", delete(HelpRequest).where(HelpRequest.student_id.in_(ids))),
            ("sessions", delete(LearningSession).where(LearningSession.student_id.in_(ids))),
            ("students", delete(Student).where(Student.id.in_(ids))),
        ):
            counts[name] = await _count_and_delete(conn, stmt)
            progress.advance(1, name)
        counts["notebooks"] = await _delete_orphan_notebooks(conn, notebook_ids)
        progress.advance(1, "notebooks")
        counts["messages"] = await _delete_orphan_messages(conn, message_ids)
        progress.advance(1, "messages")
        # Their credentials too (issued even if never used): erased, they report nothing.
        counts["student_credentials"] = await _count_and_delete(
            conn, delete(StudentCredential).where(StudentCredential.student_key.in_(keys))
        )
    erased = found or counts["student_credentials"]
    if erased and engine.dialect.name == "sqlite" and engine.url.database:
        await asyncio.to_thread(checkpoint_wal, engine.url.database)
    return found, counts


def checkpoint_wal(database: str, attempts: int = 20) -> None:
    """Copy the WAL into the database file and empty it: no old copy of a row stays there.

    The WAL keeps every page version written since the last checkpoint, so the
    erased student's rows would otherwise survive in it; TRUNCATE waits for
    readers of older snapshots (busy_timeout) and then cuts the file to zero.
    """
    for attempt in range(1, attempts + 1):
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return
        time.sleep(0.05 * attempt)
    log.warning(
        "The SQLite WAL of %s could not be emptied (readers kept it busy); "
        "the erased rows leave it at the next checkpoint",
        database,
    )


async def _delete_dedup_keys(conn: AsyncConnection, ids: list[int]) -> int:
    # PostgreSQL keeps the eventIds in the table event_ids (storage/partitions.py):
    # they link back to the student, so they go with their events.
    result = await conn.execute(
        text(
            "DELETE FROM event_ids WHERE event_id IN "
            "(SELECT event_id FROM events WHERE student_id = ANY(:ids))"
        ),
        {"ids": ids},
    )
    return int(result.rowcount or 0)


async def _delete_orphan_notebooks(conn: AsyncConnection, notebook_ids: list[int]) -> int:
    # A notebook's path may name its author ("ada-homework.ipynb"): one that only
    # this student used goes with them; one others used stays (it is theirs too).
    if not notebook_ids:
        return 0
    used = exists().where(Event.notebook_id == Notebook.id)
    executed = exists().where(CellExecution.notebook_id == Notebook.id)
    current = exists().where(Student.last_notebook == Notebook.path)
    stmt = delete(Notebook).where(and_(Notebook.id.in_(notebook_ids), ~used, ~executed, ~current))
    return await _count_and_delete(conn, stmt)


async def _delete_orphan_messages(conn: AsyncConnection, message_ids: list[int]) -> int:
    # A message sent to this student alone may be about them ("Ada, your loop..."):
    # it goes with them; one other students also received stays for those.
    if not message_ids:
        return 0
    others = exists().where(MessageRecipient.message_id == Message.id)
    stmt = delete(Message).where(and_(Message.id.in_(message_ids), ~others))
    return await _count_and_delete(conn, stmt)


async def publish_removal(settings: Settings, keys: list[str]) -> str:
    """Tell running servers (through Redis) to drop the students; what happened."""
    if not keys:
        return "nothing to remove"
    if not settings.redis_url:
        return (
            "not announced: REDIS_URL is unset (in-process broker), so running servers "
            "cannot be reached; open dashboards drop the student on their next snapshot"
        )
    from cell_monitor.broker.redis import publish_once

    removals = to_wire([StudentRemoved(student_id=key) for key in keys])
    receivers = await publish_once(settings.redis_url, settings.redis_channel, removals)
    return f"announced on Redis channel {settings.redis_channel!r} to {receivers} server worker(s)"


async def count_influx_points(api: InfluxApi, key: str) -> dict[str, int]:
    """Points stored for the student per measurement (InfluxQL, 1.x and 2.x with DBRP)."""
    literal = key.replace("\\", "\\\\").replace("'", "\\'")
    counts = {}
    for measurement in (CELL_EXECUTION, STUDENT_EVENT):
        series = await api.query(
            f'SELECT count("event_id") FROM "{measurement}" WHERE "{INFLUX_TAG}" = \'{literal}\''
        )
        values = series[0]["values"] if series else []
        counts[measurement] = int(values[0][1]) if values else 0
    return counts


async def _count_influx(api: InfluxApi, keys: list[str]) -> dict[str, int]:
    totals = {CELL_EXECUTION: 0, STUDENT_EVENT: 0}
    for key in keys:
        try:
            for name, count in (await count_influx_points(api, key)).items():
                totals[name] += count
        except InfluxError as exc:  # counting is a report; the deletion is the point
            log.warning("Could not count the InfluxDB points before erasure: %s", exc)
    return totals


def _influx_keys(settings: Settings, keys: list[str], stored: list[str]) -> list[str]:
    # With pseudonyms on, a real identity is sent to InfluxDB (which may log its
    # queries) only when it is stored as is, from before pseudonymization.
    if settings.pseudonymize:
        keys = [k for k in keys if is_pseudonym(k)]
    return list(dict.fromkeys([*keys, *stored]))


# Steps of erase_from_database: event_ids, ten tables, notebooks, messages.
DATABASE_STEPS = 13


async def erase_student(
    settings: Settings, engine: AsyncEngine, keys: list[str], progress: Progress = NO_PROGRESS
) -> ErasureReport:
    """Erase the students stored under `keys` from every store; counts per store.

    `progress` advances by one per table, one for the live dashboards and one
    per InfluxDB series.
    """
    # InfluxDB by every candidate key, not only those found in the store: an
    # earlier erasure interrupted before InfluxDB left points without a student row.
    async with engine.connect() as conn:
        stored = await student_keys_stored(conn, keys)
    influx_keys = _influx_keys(settings, keys, stored)
    api = InfluxApi(settings) if settings.influxdb_url else None
    progress.set_total(DATABASE_STEPS + 1 + (len(influx_keys) if api else 0))
    try:
        # Counted first: once the servers hear of the erasure, their sink erases too.
        before = await _count_influx(api, influx_keys) if api else None
        found, counts = await erase_from_database(engine, keys, progress)
        report = ErasureReport(student_keys=found, database=counts)
        report.live = await publish_removal(settings, found)
        progress.advance(1, "live dashboards")
        if api is not None:
            try:
                for key in influx_keys:
                    await api.delete_series(INFLUX_TAG, key)
                    progress.advance(1, "influxdb")
                report.influxdb = before
            except InfluxError as exc:
                # The store is erased; running the command again finishes InfluxDB.
                report.influxdb_error = str(exc)
    finally:
        if api is not None:
            await api.aclose()
    return report
