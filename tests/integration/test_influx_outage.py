"""InfluxDB goes away during ingest, the server restarts, InfluxDB comes back:
every event arrives once. Uses a private influxd so it can be stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cell_monitor.config import Settings
from tests.influx_support import InfluxProcess, influx_url, rows
from tests.integration.test_health_metrics import value
from tests.support import event, eventually, live_server, make_settings, missing_service

URL = "/api/v1/events"
DATABASE = "cellmonitor"
EXECUTIONS = "SELECT event_id, duration_ms FROM cell_execution"


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[InfluxProcess]:
    # Same switch as the other InfluxDB tests; where it is set, influxd must be there too.
    if not influx_url():
        missing_service("CELL_MONITOR_TEST_INFLUXDB_URL is not set")
    if not InfluxProcess.available():
        pytest.fail("influxd is not installed: apt-get install influxdb (as .ci/run does)")
    process = InfluxProcess(tmp_path / "influxd").start()
    try:
        yield process
    finally:
        process.stop()


def sink_settings(database_url: str, tmp_path: Path, influxd: InfluxProcess) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        influxdb_url=influxd.url,
        influxdb_bucket=DATABASE,
        influx_flush_seconds=0.1,
        influx_max_backoff_seconds=0.5,
        influx_batch_points=50,  # several batches, also while catching up
        influx_gap_seconds=2.0,
    )


async def post_concurrently(client: httpx.AsyncClient, batches: list[list[dict]]) -> float:
    """Post the batches at once; the slowest request's duration."""

    async def one(batch: list[dict]) -> float:
        started = time.perf_counter()
        response = await client.post(URL, json=batch)
        assert response.status_code == 202 and response.json()["accepted"] == len(batch)
        return time.perf_counter() - started

    return max(await asyncio.gather(*(one(batch) for batch in batches)))


async def test_outage_and_restart_lose_nothing_and_duplicate_nothing(
    database_url: str, tmp_path: Path, influxd: InfluxProcess
) -> None:
    settings = sink_settings(database_url, tmp_path, influxd)
    sent: list[dict] = []

    def stored() -> list[dict]:
        return rows(influxd.url, DATABASE, EXECUTIONS)

    async with live_server(settings) as base, httpx.AsyncClient(base_url=base) as client:
        before = (await client.get("/metrics")).text
        first = [[event() for _ in range(20)] for _ in range(3)]
        await post_concurrently(client, first)
        sent += [e for batch in first for e in batch]
        await eventually(lambda: len(stored()) == 60, what="the first events in InfluxDB")

        influxd.stop()
        during = [[event() for _ in range(20)] for _ in range(10)]
        slowest = await post_concurrently(client, during)
        sent += [e for batch in during for e in batch]
        # Ingest does not wait for InfluxDB (generous bound for a slow CI machine).
        assert slowest < 2.0

        async def outage_reported() -> bool:
            health = await client.get("/health")
            text = (await client.get("/metrics")).text
            return (
                health.status_code == 503
                and health.json()["services"]["influxdb"].startswith("unhealthy")
                and value(text, "influx_sink_lag_events") == 200
            )

        await eventually(outage_reported, what="health and lag to report the outage")
        assert (await client.get("/health/ready")).status_code == 200
        during_metrics = (await client.get("/metrics")).text
        assert value(during_metrics, "influx_sink_lag_seconds") > 0
        errors = value(during_metrics, "influx_write_errors_total", kind="unavailable") - value(
            before, "influx_write_errors_total", kind="unavailable"
        )
        assert errors >= 1

    # The server restarted while InfluxDB is still down: what it held in memory is gone.
    async with live_server(settings) as base, httpx.AsyncClient(base_url=base) as client:
        last = [event() for _ in range(30)]
        await post_concurrently(client, [last])
        sent += last

        async def backlog_resumed() -> bool:
            # At least everything sent since the outage (60 were written before it):
            # more than the 200 the first server reported, so this server's sink has
            # resumed from the saved position and failed to write, not just started.
            lag = value((await client.get("/metrics")).text, "influx_sink_lag_events")
            return lag >= len(sent) - 60

        await eventually(backlog_resumed, what="the restarted sink to hold the backlog")
        influxd.start()
        await eventually(lambda: len(stored()) == len(sent), what="every event in InfluxDB")

        async def healthy() -> bool:
            return (await client.get("/health")).status_code == 200

        await eventually(healthy, what="/health to recover")
        text = (await client.get("/metrics")).text
        assert value(text, "influx_sink_lag_events") == 0
        assert value(text, "influx_sink_lag_seconds") == 0

    points = stored()
    ids = [point["event_id"] for point in points]
    assert len(ids) == len(set(ids)) == len(sent) == 290
    assert set(ids) == {e["eventId"] for e in sent}
