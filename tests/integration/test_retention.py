"""Retention: `prune` and the server's daily maintenance, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from cell_monitor.storage import partitions
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.maintenance import Maintenance
from cell_monitor.storage.retention import PruneReport, prune
from tests.support import (
    event,
    eventually,
    is_config_variable,
    live_server,
    make_settings,
    query_sql,
)

URL = "/api/v1/events"
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=timezone.utc)
AGE = timedelta(days=180)  # cutoff 2026-05-19 12:00
# Month partitions 2026-03 and 2026-04 lie wholly before the cutoff; 2026-05 is
# the boundary month; 2024 has no partition (DEFAULT on PostgreSQL).
OLD = ["2024-12-24T10:00:00+00:00", "2026-03-10T10:00:00+00:00", "2026-04-20T10:00:00+00:00",
       "2026-05-05T10:00:00+00:00"]  # fmt: skip
KEPT = ["2026-05-25T10:00:00+00:00", "2026-11-10T10:00:00+00:00"]


async def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    return await asyncio.to_thread(query_sql, url, statement)


async def scalar(url: str, statement: str) -> Any:
    return (await sql(url, statement))[0][0]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def store(client: httpx.AsyncClient, times: list[str], session: str) -> list[str]:
    """One execution and one save per time; their eventIds."""
    body = []
    for when in times:
        body += [
            event(eventTime=when, sessionId=session),
            event(eventTime=when, sessionId=session, eventType="notebook_saved"),
        ]
    result = (await client.post(URL, json=body)).json()
    assert result["accepted"] == len(body)
    return [e["eventId"] for e in body]


async def month_partitions_for(settings: Settings) -> None:
    """PostgreSQL: partitions for 2026-03 to 2026-11, as a long-running install has."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            if await conn.run_sync(partitions.is_partitioned):
                first = datetime(2026, 3, 1, tzinfo=timezone.utc)
                await conn.run_sync(partitions.ensure_range, first, NOW)
    finally:
        await engine.dispose()


async def run_prune(settings: Settings, **options: Any) -> PruneReport:
    engine = create_engine(settings)
    try:
        return await prune(engine, settings, AGE, now=NOW, batch_rows=3, **options)
    finally:
        await engine.dispose()


async def add_actions(url: str) -> None:
    sid = await scalar(url, "SELECT min(id) FROM students")
    await sql(
        url,
        "INSERT INTO instructor_actions (student_id, action, actor, at) VALUES "
        f"({sid}, 'resolve_help', 'old', '2026-01-01 10:00:00'), "
        f"({sid}, 'resolve_help', 'new', '2026-11-01 10:00:00')",
    )


COUNTS = (
    "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM cell_executions), "
    "(SELECT count(*) FROM sessions), (SELECT count(*) FROM instructor_actions)"
)


async def test_prune_removes_what_is_old_and_keeps_the_rest(
    settings: Settings, database_url: str, client: httpx.AsyncClient, backend: str
) -> None:
    await month_partitions_for(settings)
    await store(client, OLD, "old-session")
    kept = await store(client, KEPT, "new-session")
    await add_actions(database_url)
    before = await sql(database_url, COUNTS)
    assert before == [(12, 6, 2, 2)]

    dry = await run_prune(settings, dry_run=True)
    assert (dry.events, dry.executions, dry.sessions, dry.instructor_actions) == (8, 4, 1, 1)
    assert await sql(database_url, COUNTS) == before  # a dry run changes nothing

    report = await run_prune(settings)
    assert (report.events, report.executions) == (8, 4)
    assert (report.sessions, report.instructor_actions) == (1, 1)
    assert await sql(database_url, COUNTS) == [(4, 2, 1, 1)]
    remaining = {r[0] for r in await sql(database_url, "SELECT event_id FROM events")}
    assert remaining == set(kept)
    assert await sql(database_url, "SELECT session_key FROM sessions") == [("new-session",)]
    assert await sql(database_url, "SELECT actor FROM instructor_actions") == [("new",)]
    if backend == "postgresql":
        dropped = ["cell_executions_p2026_03", "events_p2026_03"]
        dropped += ["cell_executions_p2026_04", "events_p2026_04"]
        assert report.partitions == dry.partitions == dropped
        for name in dropped:
            assert await scalar(database_url, f"SELECT to_regclass('{name}')") is None
        assert await scalar(database_url, "SELECT to_regclass('events_p2026_05')") is not None
        assert report.event_ids == 8
        ids = {r[0] for r in await sql(database_url, "SELECT event_id FROM event_ids")}
        assert ids == set(kept)
    assert (await run_prune(settings)).events == 0  # nothing left to do


async def test_prune_keeps_events_the_influx_sink_has_not_written(
    database_url: str, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    await store(client, OLD[:2], "s")
    first_two = await sql(database_url, "SELECT id FROM events ORDER BY id LIMIT 2")
    position = first_two[-1][0]
    await sql(
        database_url,
        "INSERT INTO sink_positions (name, last_event_pk, updated_at) "
        f"VALUES ('influxdb', {position}, '2026-11-15 00:00:00')",
    )
    settings = make_settings(database_url, tmp_path, influxdb_url="http://127.0.0.1:9")
    report = await run_prune(settings)
    assert report.events == 2 and report.held_back == 2
    assert any("InfluxDB sink has not written" in line for line in report.lines())
    left = await sql(database_url, "SELECT id FROM events ORDER BY id")
    assert all(row[0] > position for row in left) and len(left) == 2


async def test_server_prunes_daily_when_retention_is_on(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    # Stored through a server that is gone before the maintenance under test
    # starts: a running server would hold the maintenance lock itself.
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as client:
        old = await store(client, [(now - timedelta(days=400)).isoformat()], "old")
        new = await store(client, [now.isoformat()], "new")
    settings = make_settings(
        database_url, tmp_path, retention_days=180, maintenance_interval_seconds=0.05
    )
    engine = create_engine(settings)
    maintenance = Maintenance(settings, engine)
    try:
        maintenance.start()
        # It runs again after the interval.
        await eventually(lambda: maintenance.runs >= 2, timeout=10, what="a second maintenance run")
        assert maintenance.last_prune is not None
    finally:
        await maintenance.stop()
        await engine.dispose()
    remaining = {r[0] for r in await sql(database_url, "SELECT event_id FROM events")}
    assert remaining == set(new) and not remaining & set(old)


async def test_no_retention_no_prune(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, maintenance_interval_seconds=0.05)
    engine = create_engine(settings)
    maintenance = Maintenance(settings, engine)
    try:
        await maintenance.run_once()
        assert maintenance.runs == 1 and maintenance.last_prune is None
    finally:
        await maintenance.stop()
        await engine.dispose()


def run_prune_cli(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not is_config_variable(k)}
    env.update({"DATABASE_URL": url, "XDG_DATA_HOME": str(cwd / "xdg")})
    command = [sys.executable, "-m", "cell_monitor.cli", "db", "prune", *args]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.slow
async def test_prune_command(database_url: str, tmp_path: Path, client: httpx.AsyncClient) -> None:
    now = datetime.now(timezone.utc)
    await store(client, [(now - timedelta(days=200)).isoformat(), now.isoformat()], "s")
    dry = await asyncio.to_thread(
        run_prune_cli, database_url, tmp_path, "--older-than", "180d", "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert "would remove" in dry.stdout and "events: 2" in dry.stdout
    assert await scalar(database_url, "SELECT count(*) FROM events") == 4
    done = await asyncio.to_thread(run_prune_cli, database_url, tmp_path, "--older-than", "26w")
    assert done.returncode == 0, done.stderr
    assert "removed" in done.stdout and "cell executions: 1" in done.stdout
    assert await scalar(database_url, "SELECT count(*) FROM events") == 2
    bad = await asyncio.to_thread(run_prune_cli, database_url, tmp_path, "--older-than", "soon")
    assert bad.returncode != 0 and "180d" in bad.stderr


async def test_prune_removes_help_requests_closed_before_the_cutoff(
    settings: Settings, database_url: str, client: httpx.AsyncClient
) -> None:
    await store(client, KEPT, "session")
    sid = await scalar(database_url, "SELECT min(id) FROM students")
    await sql(
        database_url,
        "INSERT INTO help_requests (student_id, state, opened_at, closed_at, closed_by) VALUES "
        f"({sid}, 'dismissed', '2026-01-01 10:00:00', '2026-01-01 10:05:00', 'ta'), "
        f"({sid}, 'open', '2026-01-02 10:00:00', NULL, NULL), "
        f"({sid}, 'resolved', '2026-05-19 11:00:00', '2026-11-01 10:00:00', 'student')",
    )
    dry = await run_prune(settings, dry_run=True)
    assert dry.help_requests == 1
    report = await run_prune(settings)
    assert report.help_requests == 1 and "1 help requests" in report.summary()
    # The open request is what someone waits for now, however old; the late close stays.
    left = await sql(database_url, "SELECT state FROM help_requests ORDER BY id")
    assert left == [("open",), ("resolved",)]
