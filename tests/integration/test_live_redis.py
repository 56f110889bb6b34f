"""Live fan-out across processes through a real Redis, and through its outages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.dashboard_client import Dashboard, dashboard, is_alert, is_event
from tests.redis_support import RedisServer
from tests.support import (
    ServerProcess,
    event,
    eventually,
    live_server,
    make_settings,
    sign_in,
    two_workers,
)

URL = "/api/v1/events"
DROPPED = "broker_dropped_messages_total"


@pytest.fixture
def two_servers(
    database_url: str, redis_url: str, channel: str, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELL_MONITOR_REDIS_CHANNEL": channel,
        "CELL_MONITOR_DATA_DIR": str(tmp_path),
    }
    with two_workers(env) as pair:
        yield pair


async def test_event_posted_to_one_worker_reaches_a_dashboard_on_another(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    async with (
        dashboard(b.url) as on_b,
        dashboard(a.url) as on_a,
        # Signed in on one server, acting on the other: sessions live in the database.
        httpx.AsyncClient(headers=await sign_in(a.url)) as http,
    ):
        sent = event(eventType="help")
        assert (await http.post(a.url + URL, json=[sent])).json()["accepted"] == 1
        for board in (on_a, on_b):
            await board.wait_for(is_event(sent["eventId"]))
            await board.wait_for(is_alert("help", "raised", "ada@example.org"))
        dismissed = await http.post(b.url + "/api/v1/students/ada@example.org/help/dismiss")
        assert dismissed.status_code == 200
        for board in (on_a, on_b):
            await board.wait_for(is_alert("help", "cleared", "ada@example.org"))
        health = (await http.get(a.url + "/health")).json()
        assert health["services"]["redis"] == "healthy"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
async def server_on_private_redis(
    private_redis: RedisServer, database_url: str, tmp_path: Path
) -> AsyncIterator[str]:
    settings = make_settings(database_url, tmp_path, redis_url=private_redis.url)
    async with live_server(settings) as url:
        yield url


async def wait_health(http: httpx.AsyncClient, status: int, deadline: float = 30) -> dict:
    async def answered() -> dict:
        response = await http.get("/health")
        assert response.status_code == status, response.text
        body: dict = response.json()
        return body

    return await eventually(answered, timeout=deadline, what=f"/health to answer {status}")


async def test_redis_outage_keeps_ingest_and_live_delivery_resumes(
    server_on_private_redis: str, private_redis: RedisServer
) -> None:
    base = server_on_private_redis
    headers = await sign_in(base)
    async with (
        httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http,
        dashboard(base, headers) as board,
    ):
        before = event()
        await http.post(URL, json=[before])
        await board.wait_for(is_event(before["eventId"]))

        private_redis.stop()
        health = await wait_health(http, 503)
        assert health["services"]["redis"].startswith("unhealthy")
        assert (await http.get("/health/ready")).status_code == 200  # ingest still works
        during = [event(emailAddress="bob@example.org") for _ in range(5)]
        response = await http.post(URL, json=during)
        assert response.status_code == 202 and response.json()["accepted"] == 5

        private_redis.start()
        await wait_health(http, 200)
        # Messages published while Redis was away are lost to the live feed, so
        # the dashboard gets a fresh snapshot that includes them.
        resync = await board.wait_for(
            lambda m: (
                m["type"] == "snapshot"
                and any(s["student"] == "bob@example.org" for s in m["students"])
            ),
            timeout=30,
        )
        bob = next(s for s in resync["students"] if s["student"] == "bob@example.org")
        assert bob["events"] == 5
        after = event()
        await http.post(URL, json=[after])
        await board.wait_for(is_event(after["eventId"]), timeout=30)
        stats = (await http.get("/api/v1/stats")).json()
        assert stats["events"] == 7


async def test_hung_redis_makes_every_dashboard_resynchronise(
    private_redis: RedisServer, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, redis_url=private_redis.url, redis_timeout_seconds=1.0
    )
    async with live_server(settings) as base:
        headers = await sign_in(base)
        async with (
            httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http,
            dashboard(base, headers) as first,
            dashboard(base, headers) as second,
        ):
            before = event()
            await http.post(URL, json=[before])
            for board in (first, second):
                await board.wait_for(is_event(before["eventId"]))
            snapshots = {id(board): len(board.of_type("snapshot")) for board in (first, second)}

            dropped = await _metric(http, DROPPED)
            private_redis.pause()
            try:
                await wait_health(http, 503)  # the PING of /health times out
                during = [event(emailAddress="bob@example.org") for _ in range(5)]
                response = await http.post(URL, json=during)
                assert response.status_code == 202 and response.json()["accepted"] == 5
                # The publish of bob's messages times out and they are dropped.
                await _wait_metric(http, DROPPED, dropped + 5)
            finally:
                private_redis.resume()
            await wait_health(http, 200)

            def fresh_snapshot_with_bob(board: Dashboard) -> Callable[[dict], bool]:
                def check(message: dict) -> bool:
                    index = board.messages.index(message)
                    later = sum(1 for m in board.messages[:index] if m["type"] == "snapshot")
                    return (
                        message["type"] == "snapshot"
                        and later >= snapshots[id(board)]
                        and any(
                            s["student"] == "bob@example.org" and s["events"] == 5
                            for s in message["students"]
                        )
                    )

                return check

            for board in (first, second):
                await board.wait_for(fresh_snapshot_with_bob(board), timeout=30)
            # Live delivery works again after the resync.
            after = event()
            await http.post(URL, json=[after])
            for board in (first, second):
                await board.wait_for(is_event(after["eventId"]), timeout=30)


async def _metric(http: httpx.AsyncClient, name: str) -> float:
    text = (await http.get("/metrics")).text
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    return values[0] if values else 0.0


async def _wait_metric(http: httpx.AsyncClient, name: str, at_least: float) -> None:
    async def reached() -> bool:
        return await _metric(http, name) >= at_least

    await eventually(reached, timeout=30, what=f"{name} to reach {at_least}")


def test_several_workers_need_redis(tmp_path: Path) -> None:
    env = {"CELL_MONITOR_DATA_DIR": str(tmp_path), "REDIS_URL": ""}
    server = ServerProcess(env, "--workers", "2")
    try:
        assert server.process.wait(30) != 0
        assert "needs REDIS_URL" in server.output()
    finally:
        server.stop()


async def test_workers_share_one_live_feed(
    database_url: str, redis_url: str, channel: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELL_MONITOR_REDIS_CHANNEL": channel,
        "CELL_MONITOR_DATA_DIR": str(tmp_path),
    }
    server = ServerProcess(env, "--workers", "2").wait_ready()
    try:
        async with dashboard(server.url) as board:
            sent = [event(emailAddress=f"s{i}@example.org") for i in range(30)]
            for item in sent:
                # A new connection each time, so requests spread over the workers.
                async with httpx.AsyncClient() as http:
                    assert (await http.post(server.url + URL, json=[item])).status_code == 202
            for item in sent:
                await board.wait_for(is_event(item["eventId"]))
    finally:
        server.stop()
