"""The InfluxDB sink against a real InfluxDB 1.x, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from sqlalchemy import func, select

from cell_monitor.config import Settings
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.models import Event, SinkPosition
from tests.influx_support import query, rows, write
from tests.integration.test_health_metrics import value
from tests.support import event, eventually, free_port, live_server, make_settings

URL = "/api/v1/events"
EXECUTIONS = "SELECT * FROM cell_execution"
OTHERS = "SELECT * FROM student_event"


def iso(when: datetime) -> str:
    return when.isoformat()


def epoch_us(text: str) -> int:
    when = datetime.fromisoformat(text)
    return (when - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def by_event_id(points: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {point["event_id"]: point for point in points}


async def positions(settings: Settings) -> tuple[int, int]:
    """(the sink's saved position, the highest event id) read from the store."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            saved = (await conn.execute(select(SinkPosition.last_event_pk))).scalar()
            top = (await conn.execute(select(func.max(Event.id)))).scalar()
        return int(saved or 0), int(top or 0)
    finally:
        await engine.dispose()


async def test_points_match_the_events(
    influx_settings: Settings, influx_server: str, influx_database: str
) -> None:
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    executions = [
        event(eventTime=iso(start), executionDurationMs=12.5, cellIndex=3, executionCount=7),
        event(
            eventTime=iso(start + timedelta(seconds=1)),
            emailAddress="Bob.Smith@Example.org",
            hasError=True,
            errorName='Zero\nDivision "Error" \\',
            executionDurationMs=4,
        ),
        # Tag values the line protocol has to escape.
        event(
            eventTime=iso(start + timedelta(seconds=2)),
            emailAddress=None,
            userId="user with space,comma=equals",
            notebookPath="dir/my notebook, v2=final.ipynb",
        ),
        event(eventTime=iso(start + timedelta(seconds=3)), executionDurationMs=None),
    ]
    # Sent without eventTime: all get the same arrival time, and must not overwrite each other.
    executions += [event(eventTime=None, cellIndex=i) for i in range(3)]
    others = [
        event(eventType="notebook_opened", eventTime=iso(start)),
        event(eventType="help", eventTime=iso(start)),
        event(eventType="kernel_restarted", eventTime=iso(start)),
    ]
    async with live_server(influx_settings) as base, httpx.AsyncClient(base_url=base) as client:
        before = (await client.get("/metrics")).text
        response = await client.post(URL, json=[*executions, *others])
        assert response.json()["accepted"] == len(executions) + len(others)
        await eventually(
            lambda: (
                len(rows(influx_server, influx_database, EXECUTIONS)) == len(executions)
                and len(rows(influx_server, influx_database, OTHERS)) == len(others)
            ),
            what="every event in InfluxDB",
        )
        after = (await client.get("/metrics")).text
        health = (await client.get("/health")).json()

    points = by_event_id(rows(influx_server, influx_database, EXECUTIONS))
    assert set(points) == {e["eventId"] for e in executions}
    for sent in executions:
        point = points[sent["eventId"]]
        key = sent["emailAddress"].lower() if "emailAddress" in sent else sent["userId"]
        assert point["user_id"] == key
        assert point["notebook"] == sent["notebookPath"]
        assert point["duration_ms"] == sent.get("executionDurationMs")
        assert point["has_error"] is sent["hasError"]
        assert point["has_error_int"] == int(sent["hasError"])
        assert point["cell_index"] == sent["cellIndex"]
        assert point["execution_count"] == sent["executionCount"]
        if "eventTime" in sent:
            # The event's own time, plus less than its own precision to keep points apart.
            sent_ns = epoch_us(sent["eventTime"]) * 1000
            assert sent_ns <= point["time"] < sent_ns + 1_000_000_000
            assert point["time"] // 1000 == sent_ns // 1000 or sent_ns % 1_000_000 == 0
    # A newline cannot be in line protocol; it became a space. Quotes and backslashes survive.
    assert points[executions[1]["eventId"]]["error_name"] == 'Zero Division "Error" \\'
    assert points[executions[0]["eventId"]]["error_name"] is None

    kinds = {p["event_id"]: p for p in rows(influx_server, influx_database, OTHERS)}
    assert kinds[others[0]["eventId"]]["event_type"] == "notebook_opened"
    assert kinds[others[1]["eventId"]]["event_type"] == "help"
    assert kinds[others[2]["eventId"]]["event_type"] == "other"
    assert kinds[others[2]["eventId"]]["raw_type"] == "kernel_restarted"

    total = len(executions) + len(others)
    assert (
        value(after, "influx_points_written_total") - value(before, "influx_points_written_total")
        == total
    )
    assert value(after, "influx_sink_lag_events") == 0
    assert value(after, "influx_sink_leader") == 1
    assert health["services"]["influxdb"] == "healthy"
    saved, top = await positions(influx_settings)
    assert saved == top


async def test_a_refused_point_is_skipped_and_the_rest_arrives(
    influx_settings: Settings, influx_server: str, influx_database: str
) -> None:
    # A field type conflict: duration_ms already is a string in the shard of
    # early January 2020, so InfluxDB refuses our float there (400).
    old = datetime(2020, 1, 1, tzinfo=timezone.utc)
    old_ns = epoch_us(iso(old)) * 1000
    query(influx_server, f'CREATE DATABASE "{influx_database}"')
    conflict = f'cell_execution,user_id=someone duration_ms="slow",has_error=false {old_ns}'
    assert write(influx_server, influx_database, conflict).status_code == 204

    doomed = event(eventTime=iso(old + timedelta(hours=1)))
    fine = [event() for _ in range(5)]
    async with live_server(influx_settings) as base, httpx.AsyncClient(base_url=base) as client:
        before = (await client.get("/metrics")).text
        assert (await client.post(URL, json=[fine[0], doomed, fine[1]])).status_code == 202
        assert (await client.post(URL, json=fine[2:])).status_code == 202

        async def caught_up() -> bool:
            saved, top = await positions(influx_settings)
            return saved == top

        await eventually(caught_up, what="the sink to pass the refused point")
        after = (await client.get("/metrics")).text

    stored = by_event_id(rows(influx_server, influx_database, EXECUTIONS))
    assert {e["eventId"] for e in fine} <= set(stored)
    assert doomed["eventId"] not in stored

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("influx_points_dropped_total") == 1
    assert delta("influx_points_written_total") == 5
    assert delta("influx_write_errors_total", kind="rejected") == 1


async def test_unreachable_influxdb_shows_in_health_and_metrics_not_in_ingest(
    database_url: str, tmp_path: Any
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(
        database_url, tmp_path, influxdb_url=nobody, influx_max_backoff_seconds=0.5
    )
    async with live_server(settings) as base, httpx.AsyncClient(base_url=base) as client:
        before = (await client.get("/metrics")).text
        for _ in range(3):
            assert (await client.post(URL, json=[event(), event()])).status_code == 202

        async def lag_reported() -> bool:
            text = (await client.get("/metrics")).text
            return value(text, "influx_sink_lag_events") == 6

        await eventually(lag_reported, what="the lag to count the unwritten events")
        after = (await client.get("/metrics")).text
        health = await client.get("/health")
        ready = await client.get("/health/ready")

    assert health.status_code == 503
    assert health.json()["services"]["influxdb"].startswith("unhealthy: InfluxDB at")
    assert "unreachable" in health.json()["services"]["influxdb"]
    # Ingest does not need InfluxDB: the server stays in rotation.
    assert ready.status_code == 200
    assert value(after, "influx_sink_lag_seconds") > 0
    unavailable = value(after, "influx_write_errors_total", kind="unavailable") - value(
        before, "influx_write_errors_total", kind="unavailable"
    )
    assert unavailable >= 1


async def test_restart_resumes_from_the_saved_position(
    influx_settings: Settings, influx_server: str, influx_database: str
) -> None:
    first = [event() for _ in range(4)]
    async with live_server(influx_settings) as base, httpx.AsyncClient(base_url=base) as client:
        await client.post(URL, json=first)
        await eventually(lambda: len(rows(influx_server, influx_database, EXECUTIONS)) == 4)
    saved, top = await positions(influx_settings)
    assert saved == top
    # Forget what InfluxDB holds: a sink that restarted from the log's start would rewrite it.
    query(influx_server, "DROP MEASUREMENT cell_execution", influx_database)
    later = event()
    async with live_server(influx_settings) as base, httpx.AsyncClient(base_url=base) as client:
        await client.post(URL, json=[later])
        await eventually(lambda: len(rows(influx_server, influx_database, EXECUTIONS)) >= 1)
    stored = by_event_id(rows(influx_server, influx_database, EXECUTIONS))
    assert set(stored) == {later["eventId"]}


async def test_shutdown_writes_what_was_committed(
    influx_settings: Settings, influx_server: str, influx_database: str
) -> None:
    # A flush interval far longer than the test: only the drain on shutdown can write.
    settings = influx_settings.model_copy(update={"influx_flush_seconds": 60.0})
    sent = [event() for _ in range(3)]
    async with live_server(settings) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.post(URL, json=sent)).status_code == 202
    stored = by_event_id(rows(influx_server, influx_database, EXECUTIONS))
    assert set(stored) == {e["eventId"] for e in sent}
