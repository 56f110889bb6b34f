"""GET /api/v1/activity from InfluxDB and from the primary store: the same answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from cell_monitor.config import Settings
from tests.influx_support import rows
from tests.support import event, eventually, live_server, sign_in

URL = "/api/v1/activity"


async def signed_in(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers=await sign_in(base))


def minute_ago(minutes: int, second: int = 10) -> str:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return (now - timedelta(minutes=minutes, seconds=-second)).isoformat()


def history() -> list[dict]:
    """3 executions (1 error) 10 minutes ago, 2 two minutes ago, 4 ninety minutes ago."""
    return [
        *(event(eventTime=minute_ago(10, s)) for s in (1, 2)),
        event(eventTime=minute_ago(10, 3), hasError=True, errorName="NameError"),
        *(event(eventTime=minute_ago(2, s)) for s in (1, 2)),
        *(event(eventTime=minute_ago(90, s)) for s in (1, 2, 3, 4)),
        event(eventType="help", eventTime=minute_ago(2)),  # not an execution
        event(eventTime=minute_ago(60 * 25)),  # outside every window
    ]


def totals(body: dict) -> tuple[int, int]:
    return sum(m["executions"] for m in body["minutes"]), sum(m["errors"] for m in body["minutes"])


async def test_activity_from_the_database(client: httpx.AsyncClient, backend: str) -> None:
    sent = history()
    await client.post("/api/v1/events", json=sent)
    hour = (await client.get(URL, params={"hours": 1})).json()
    assert hour["source"] == backend and hour["fallbackReason"] is None
    assert len(hour["minutes"]) == 60 and hour["bucketSeconds"] == 60
    assert totals(hour) == (5, 1)
    busy = [m for m in hour["minutes"] if m["executions"]]
    assert [(m["executions"], m["errors"]) for m in busy] == [(3, 1), (2, 0)]
    first = datetime.fromisoformat(sent[0]["eventTime"]).replace(second=0)
    assert datetime.fromisoformat(busy[0]["time"].replace("Z", "+00:00")) == first
    three = (await client.get(URL, params={"hours": 3})).json()
    assert len(three["minutes"]) == 180 and totals(three) == (9, 1)
    assert totals((await client.get(URL, params={"hours": 24})).json()) == (9, 1)
    assert (await client.get(URL, params={"hours": 2})).status_code == 422
    unconfigured = await client.get(URL, params={"source": "influxdb"})
    assert unconfigured.status_code == 503 and "INFLUXDB_URL" in unconfigured.json()["detail"]


async def test_activity_from_influxdb_matches_the_database(
    influx_settings: Settings, influx_server: str, influx_database: str, backend: str
) -> None:
    sent = history()
    executions = sum(1 for e in sent if e["eventType"] == "cell_executed")
    async with (
        live_server(influx_settings) as base,
        httpx.AsyncClient(base_url=base, headers=await sign_in(base)) as client,
    ):
        await client.post("/api/v1/events", json=sent)
        await eventually(
            lambda: (
                len(rows(influx_server, influx_database, "SELECT * FROM cell_execution"))
                == executions
            )
        )
        for hours in (1, 3, 24):
            influx = (await client.get(URL, params={"hours": hours})).json()
            store = (await client.get(URL, params={"hours": hours, "source": "database"})).json()
            assert influx["source"] == "influxdb" and store["source"] == backend
            assert influx["minutes"] == store["minutes"]
        assert totals(influx) == (9, 1)


async def test_activity_falls_back_when_influxdb_does_not_answer(
    influx_settings: Settings,
) -> None:
    settings = influx_settings.model_copy(update={"influxdb_url": "http://127.0.0.1:9"})
    async with (
        live_server(settings) as base,
        httpx.AsyncClient(base_url=base, headers=await sign_in(base)) as client,
    ):
        await client.post("/api/v1/events", json=history())
        body = (await client.get(URL)).json()
        assert body["source"] in ("sqlite", "postgresql")
        assert "unreachable" in body["fallbackReason"]
        assert totals(body) == (5, 1)
        strict = await client.get(URL, params={"source": "influxdb"})
        assert strict.status_code == 503
