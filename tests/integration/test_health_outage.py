"""PostgreSQL goes away and comes back: /health, ingest 503 + Retry-After, recovery.

A real TCP proxy (asyncio streams) sits between the server and PostgreSQL;
stopping it closes the listener and every connection, as an outage would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support import event, eventually, live_server, make_settings

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

DEADLINE = 30.0  # generous bound for every poll


class TcpProxy:
    """Forwards 127.0.0.1:<port> to target.

    stop() is a hard outage (connections refused and reset), start() a recovery;
    pause() is a network stall (bytes held back, nothing refused), resume() ends it.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        # reuse_address (the asyncio default on Unix) lets a restart take the same port.
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    def pause(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            self._writers.discard(client_w)
            return
        self._writers.add(upstream_w)
        for source, sink in ((client_r, upstream_w), (upstream_r, client_w)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sink.transport.abort()
            self._writers.discard(sink)


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(database_url)
    tcp = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await tcp.start()
    try:
        yield tcp
    finally:
        if tcp.running:
            await tcp.stop()


async def health_answers(http: httpx.AsyncClient, status: int) -> httpx.Response:
    """GET /health until it answers `status`; fail with the last answer after DEADLINE."""

    async def answered() -> httpx.Response:
        response = await http.get("/health")
        assert response.status_code == status, response.text
        return response

    return await eventually(answered, timeout=DEADLINE, what=f"/health to answer {status}")


async def stored_event_ids(database_url: str) -> list[str]:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        return [row[0] for row in await connection.fetch("SELECT event_id FROM events")]
    finally:
        await connection.close()


def ids(batch: list[dict[str, Any]]) -> set[str]:
    return {e["eventId"] for e in batch}


async def test_postgresql_outage_and_recovery(
    proxy: TcpProxy, database_url: str, tmp_path: Path
) -> None:
    via_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(
        via_proxy.render_as_string(hide_password=False), tmp_path, db_timeout_seconds=2
    )
    before = [event() for _ in range(5)]
    during = [event() for _ in range(5)]
    after = [event() for _ in range(5)]

    async with (
        live_server(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=DEADLINE) as http,
    ):
        # Healthy.
        response = await http.get("/health")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "healthy"
        assert response.json()["services"]["postgresql"] == "healthy"
        response = await http.post("/api/v1/events", json=before)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == len(before)

        # Outage: the listener and every open connection go away.
        await proxy.stop()
        response = await health_answers(http, 503)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "unhealthy"
        assert body["services"]["postgresql"].startswith("unhealthy")
        assert (await http.get("/health/ready")).status_code == 503
        assert (await http.get("/health/live")).status_code == 200

        for _ in range(2):  # the first attempt may meet a dead pooled connection
            response = await http.post("/api/v1/events", json=during)
            assert response.status_code == 503, response.text
            assert "Retry-After" in response.headers
            assert int(response.headers["Retry-After"]) > 0
            assert "accepted" not in response.json()

        # Recovery on the same port.
        await proxy.start()
        response = await health_answers(http, 200)
        assert response.status_code == 200, response.text
        assert response.json()["services"]["postgresql"] == "healthy"

        response = await http.post("/api/v1/events", json=after)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == len(after)
        # Nothing of the refused request was stored: its resend is all new.
        response = await http.post("/api/v1/events", json=during)
        assert response.status_code == 202, response.text
        assert response.json() == {
            "accepted": len(during),
            "duplicates": 0,
            "truncated": 0,
            "clockAdjusted": 0,
            "rejected": [],
        }
        # What was acknowledged before the outage is still there, exactly once.
        response = await http.post("/api/v1/events", json=before)
        assert response.json()["duplicates"] == len(before)

    stored = await stored_event_ids(database_url)
    assert sorted(stored) == sorted(ids(before) | ids(during) | ids(after))


def proxied_settings(database_url: str, proxy: TcpProxy, tmp_path: Path, timeout: float) -> Any:
    via_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return make_settings(
        via_proxy.render_as_string(hide_password=False),
        tmp_path,
        db_timeout_seconds=timeout,
        db_command_timeout_seconds=timeout,
    )


async def test_health_reports_a_stalled_postgresql(
    proxy: TcpProxy, database_url: str, tmp_path: Path
) -> None:
    settings = proxied_settings(database_url, proxy, tmp_path, timeout=1)
    async with (
        live_server(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=DEADLINE) as http,
    ):
        assert (await http.get("/health")).status_code == 200
        proxy.pause()  # packets stop flowing, nothing is refused: only timeouts can tell
        try:
            response = await health_answers(http, 503)
        finally:
            proxy.resume()
        assert response.status_code == 503, response.text
        assert response.json()["services"]["postgresql"].startswith("unhealthy")
        response = await health_answers(http, 200)
        assert response.status_code == 200, response.text


# The server is configured to give up on the database after 0.5 s; ten times that
# is a generous bound for an answer (the bug: there is none until TCP gives up).
STALL_DB_TIMEOUT = 0.5
STALL_ANSWER_DEADLINE = 10 * STALL_DB_TIMEOUT


async def test_ingest_answers_503_when_postgresql_stalls(
    proxy: TcpProxy, database_url: str, tmp_path: Path
) -> None:
    settings = proxied_settings(database_url, proxy, tmp_path, timeout=STALL_DB_TIMEOUT)
    stalled = [event() for _ in range(3)]
    async with (
        live_server(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=DEADLINE) as http,
    ):
        response = await http.post("/api/v1/events", json=[event()])
        assert response.status_code == 202, response.text
        proxy.pause()
        try:
            response = await http.post(
                "/api/v1/events", json=stalled, timeout=STALL_ANSWER_DEADLINE
            )
        except httpx.TimeoutException:
            pytest.fail(f"no answer within {STALL_ANSWER_DEADLINE}s while PostgreSQL stalls")
        finally:
            proxy.resume()
        assert response.status_code == 503, response.text
        assert "Retry-After" in response.headers
