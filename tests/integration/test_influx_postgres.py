"""What only PostgreSQL does: ids that commit out of order, several workers."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cell_monitor.config import Settings
from cell_monitor.contract.events import EventIn
from cell_monitor.ingest.parse import normalize
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.leader import Leadership
from cell_monitor.storage.models import SinkPosition
from cell_monitor.storage.writer import write_group
from tests.influx_support import rows
from tests.integration.test_health_metrics import value
from tests.support import ServerProcess, event, eventually, live_server, missing_service

URL = "/api/v1/events"
EXECUTIONS = "SELECT event_id, duration_ms FROM cell_execution"


@pytest.fixture(autouse=True)
def _postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers: its ids never commit out of order")


async def saved_position(settings: Settings) -> int:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(SinkPosition.last_event_pk))).scalar() or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("hold_seconds", [0.0, 2.5], ids=["young-hole", "hole-near-expiry"])
async def test_a_late_commit_is_not_skipped(
    influx_settings: Settings, influx_server: str, influx_database: str, hold_seconds: float
) -> None:
    """A transaction takes its id, others commit higher ids, then it commits."""

    def stored() -> set[str]:
        return {p["event_id"] for p in rows(influx_server, influx_database, EXECUTIONS)}

    engine = create_engine(influx_settings)
    # Its own student, notebook and session: their rows stay locked until it commits.
    alone = event(emailAddress="late@example.org", notebookPath="late.ipynb", sessionId="late")
    late = normalize(EventIn.model_validate(alone), influx_settings, datetime.now(timezone.utc))
    async with live_server(influx_settings) as base, httpx.AsyncClient(base_url=base) as client:
        conn = await engine.connect()
        transaction = await conn.begin()
        try:
            await write_group(conn, [late])  # takes its id now, visible only at commit
            assert late.pk is not None
            others = [event() for _ in range(5)]
            await client.post(URL, json=others)
            await eventually(lambda: {e["eventId"] for e in others} <= stored())
            # The others are in InfluxDB; the saved position stays below the hole.
            assert await saved_position(influx_settings) < late.pk
            # Not a wait for a condition: how long the hole stays open is what the
            # test varies (young, or close to CELL_MONITOR_INFLUX_GAP_SECONDS).
            await asyncio.sleep(hold_seconds)
            await transaction.commit()
        finally:
            await conn.close()
            await engine.dispose()
        await eventually(lambda: late.event_id in stored(), what="the late event in InfluxDB")

        async def position_passed() -> bool:
            return await saved_position(influx_settings) > late.pk  # type: ignore[operator]

        await eventually(position_passed, what="the saved position to move past the hole")
    assert len(stored()) == 6


async def test_one_leader_at_a_time(influx_settings: Settings) -> None:
    engines = [create_engine(influx_settings) for _ in range(2)]
    first, second = (Leadership(engine, "influxdb") for engine in engines)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.confirm()
        await first.release()
        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.release()
        await second.release()
        for engine in engines:
            await engine.dispose()


@pytest.mark.slow
async def test_two_workers_write_every_event_once(
    influx_settings: Settings, database_url: str, influx_server: str, influx_database: str
) -> None:
    redis_url = os.environ.get("CELL_MONITOR_TEST_REDIS_URL")
    if not redis_url:
        missing_service("CELL_MONITOR_TEST_REDIS_URL is not set (several workers need Redis)")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELL_MONITOR_REDIS_CHANNEL": f"cell-monitor-test-{uuid.uuid4().hex[:8]}",
        "INFLUXDB_URL": influx_server,
        "INFLUXDB_BUCKET": influx_database,
        "CELL_MONITOR_INFLUX_FLUSH_SECONDS": "0.1",
        "CELL_MONITOR_INFLUX_GAP_SECONDS": "2",
        "CELL_MONITOR_DATA_DIR": str(Path(str(influx_settings.data_dir))),
        "PROMETHEUS_MULTIPROC_DIR": str(influx_settings.data_dir / "metrics"),
    }
    (influx_settings.data_dir / "metrics").mkdir(parents=True, exist_ok=True)
    server = ServerProcess(env, "--workers", "2").wait_ready()
    try:
        sent = [[event() for _ in range(10)] for _ in range(20)]
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            # New connections spread the requests over both workers.
            await asyncio.gather(*(client.post(URL, json=batch) for batch in sent))
            expected = {e["eventId"] for batch in sent for e in batch}
            await eventually(
                lambda: len(rows(influx_server, influx_database, EXECUTIONS)) == len(expected),
                what="every event in InfluxDB",
            )
            text = (await client.get("/metrics")).text
        points = rows(influx_server, influx_database, EXECUTIONS)
        assert {p["event_id"] for p in points} == expected
        assert value(text, "influx_sink_leader") == 1  # summed over the live workers
    finally:
        server.stop()
