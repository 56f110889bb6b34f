"""The partitioned event log on PostgreSQL: migration, partitions ahead, default rows, dedup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from cell_monitor.storage import migrations, partitions
from cell_monitor.storage.engine import create_engine
from tests.support import event, eventually, live_server, make_settings, query_sql

URL = "/api/v1/events"

postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
pytestmark = postgres_only


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    return await asyncio.to_thread(query_sql, url, statement)


async def scalar(url: str, statement: str) -> Any:
    return (await sql(url, statement))[0][0]


async def where(url: str, table: str) -> dict[str, str]:
    """{event_id: partition} of every event (or, for cell_executions, of its event)."""
    if table == "events":
        statement = "SELECT event_id, tableoid::regclass::text FROM events"
    else:
        statement = (
            "SELECT e.event_id, c.tableoid::regclass::text FROM cell_executions c "
            "JOIN events e ON e.id = c.event_pk AND e.event_time = c.event_time"
        )
    return {row[0]: row[1] for row in await sql(url, statement)}


async def reloptions(url: str, relation: str) -> list[str]:
    rows = await sql(url, f"SELECT reloptions FROM pg_class WHERE relname = '{relation}'")
    return list(rows[0][0] or [])


async def ensure(settings: Settings, months_ahead: int, now: datetime) -> list[str]:
    engine = create_engine(settings)
    try:
        return await partitions.ensure_partitions(engine, months_ahead, now)
    finally:
        await engine.dispose()


PLAIN_ROWS = [
    "INSERT INTO students (student_key, first_seen, last_seen) VALUES ('ada', now(), now())",
    "INSERT INTO notebooks (path, first_seen, last_seen) VALUES ('a.ipynb', now(), now())",
    "INSERT INTO sessions (student_id, session_key, first_seen, last_seen) "
    "VALUES (1, 's1', now(), now())",
    "INSERT INTO events (event_id, event_type, event_time, received_at, student_id, "
    "notebook_id, session_id) VALUES "
    "('old', 'cell_executed', now() - interval '70 days', now(), 1, 1, 1), "
    "('broken-clock', 'cell_executed', '1971-01-01', now(), 1, 1, 1), "
    "('now', 'notebook_saved', now(), now(), 1, 1, 1)",
    "INSERT INTO cell_executions (event_pk, student_id, notebook_id, event_time, code) "
    "SELECT id, student_id, notebook_id, event_time, 'print(' || event_id || ')' "
    "FROM events WHERE event_type = 'cell_executed'",
]


async def test_migration_converts_and_restores_rows(
    empty_database_url: str, tmp_path: Path
) -> None:
    url = empty_database_url
    settings = make_settings(url, tmp_path, partition_months_ahead=2)
    await migrations.upgrade_async(settings, revision="0003")
    for statement in PLAIN_ROWS:
        await sql(url, statement)
    before = await sql(url, "SELECT id, event_id, event_time FROM events ORDER BY id")

    await migrations.upgrade_async(settings)
    assert await sql(url, "SELECT relkind::text FROM pg_class WHERE relname = 'events'") == [("p",)]
    assert await sql(url, "SELECT id, event_id, event_time FROM events ORDER BY id") == before
    assert sorted(r[0] for r in await sql(url, "SELECT event_id FROM event_ids")) == [
        "broken-clock",
        "now",
        "old",
    ]
    now = datetime.now(timezone.utc)
    old_month = partitions.month_start(now - timedelta(days=70))
    placed = await where(url, "events")
    assert placed["old"] == partitions.partition_name("events", old_month)
    assert placed["now"] == partitions.partition_name("events", partitions.month_start(now))
    assert placed["broken-clock"] == "events_default"  # beyond the backfilled months
    executions = await where(url, "cell_executions")
    assert executions["old"] == partitions.partition_name("cell_executions", old_month)
    ahead = partitions.partition_name("events", partitions.add_months(now, 2))
    assert "autovacuum_analyze_scale_factor=0.02" in await reloptions(url, ahead)
    # The id sequence goes on where the plain table left it (the sink's position stays valid).
    next_id = await scalar(url, "SELECT nextval('events_id_seq')")
    assert next_id > max(row[0] for row in before)

    await asyncio.to_thread(migrations.downgrade, settings, None, "0003")
    assert await sql(url, "SELECT relkind::text FROM pg_class WHERE relname = 'events'") == [("r",)]
    assert await sql(url, "SELECT id, event_id, event_time FROM events ORDER BY id") == before
    assert await scalar(url, "SELECT count(*) FROM cell_executions") == 2
    assert await sql(url, "SELECT to_regclass('event_ids')") == [(None,)]
    constraints = {r[0] for r in await sql(url, "SELECT conname FROM pg_constraint")}
    assert {"uq_events_event_id", "fk_events_session_id_sessions"} <= constraints
    await migrations.upgrade_async(settings)
    assert await scalar(url, "SELECT count(*) FROM events") == 3


async def test_partitions_are_created_ahead(settings: Settings, database_url: str) -> None:
    now = datetime(2031, 6, 15, tzinfo=timezone.utc)
    created = await ensure(settings, 3, now)
    months = ["2031_06", "2031_07", "2031_08", "2031_09"]
    assert created == [f"{table}_p{m}" for m in months for table in partitions.PARTITIONED]
    for name in created:
        options = await reloptions(database_url, name)
        assert "autovacuum_analyze_scale_factor=0.02" in options
        assert "autovacuum_vacuum_scale_factor=0.05" in options
    assert await ensure(settings, 3, now) == []  # nothing twice


async def test_rows_in_the_default_partition_move_to_a_new_month(
    settings: Settings, database_url: str, client: httpx.AsyncClient
) -> None:
    # A month with no partition: long past (a client clock cannot put an event in the future).
    future = event(eventTime="2003-03-10T08:00:00+00:00")
    other = event(eventTime="2003-04-02T08:00:00+00:00", eventType="notebook_saved")
    assert (await client.post(URL, json=[future, other])).json()["accepted"] == 2
    assert (await where(database_url, "events"))[future["eventId"]] == "events_default"

    created = await ensure(settings, 0, datetime(2003, 3, 1, tzinfo=timezone.utc))
    assert created == ["events_p2003_03", "cell_executions_p2003_03"]
    assert await where(database_url, "events") == {
        future["eventId"]: "events_p2003_03",
        other["eventId"]: "events_default",
    }
    assert await where(database_url, "cell_executions") == {
        future["eventId"]: "cell_executions_p2003_03"
    }
    assert "autovacuum_analyze_scale_factor=0.02" in await reloptions(
        database_url, "events_p2003_03"
    )
    # Still stored once; the moved execution still belongs to its event (where() joins them).
    again = (await client.post(URL, json=[future])).json()
    assert again["accepted"] == 0 and again["duplicates"] == 1
    code = await sql(database_url, "SELECT code FROM cell_executions_p2003_03")
    assert code == [("print(1)",)]


async def test_resend_across_partitions_is_stored_once(
    database_url: str, client: httpx.AsyncClient
) -> None:
    now = datetime.now(timezone.utc)
    last_month = partitions.add_months(partitions.month_start(now), -1) + timedelta(days=27)
    first = event(eventTime=last_month.isoformat())
    # The same eventId again, stamped in another month: it is the same event.
    moved = {**first, "eventTime": now.isoformat()}
    undated = event(eventTime=None)  # the server stamps these on arrival
    assert (await client.post(URL, json=[first, undated])).json()["accepted"] == 2
    # The resent undated event must get a later arrival stamp than its first copy,
    # so that this is a resend stamped another time: the clock has to move on.
    stamped = await scalar(database_url, "SELECT max(received_at) FROM events")
    stamped_at = datetime.fromisoformat(str(stamped))
    if stamped_at.tzinfo is None:  # SQLite keeps UTC without an offset
        stamped_at = stamped_at.replace(tzinfo=timezone.utc)
    await eventually(lambda: datetime.now(timezone.utc) > stamped_at, what="a later instant")
    result = (await client.post(URL, json=[moved, undated])).json()
    assert result["accepted"] == 0 and result["duplicates"] == 2
    rows = await sql(database_url, "SELECT event_id, count(*) FROM events GROUP BY event_id")
    assert sorted(rows) == sorted([(first["eventId"], 1), (undated["eventId"], 1)])
    assert await scalar(database_url, "SELECT count(*) FROM cell_executions") == 2
    assert await scalar(database_url, "SELECT count(*) FROM event_ids") == 2
