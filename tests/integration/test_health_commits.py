"""/health and /health/ready follow commits, not only `SELECT 1`.

Real failures: a SQLite database on a tmpfs that the test fills, and a
PostgreSQL database of the test's own switched to read-only. Both report
unhealthy while commits fail and recover by themselves once writes work again.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.disk_support import fill, small_filesystem
from tests.support import event, eventually, live_server, make_settings

DEADLINE = 30.0


async def _post(http: httpx.AsyncClient, count: int = 1, code_chars: int = 10) -> httpx.Response:
    body = [event(code="x" * code_chars) for _ in range(count)]
    return await http.post("/api/v1/events", json=body)


async def _status(http: httpx.AsyncClient, path: str) -> int:
    return (await http.get(path)).status_code


async def _assert_failing(http: httpx.AsyncClient, reason: str) -> None:
    for path in ("/health/ready", "/health"):
        response = await http.get(path)
        assert response.status_code == 503, (path, response.text)
        ingest = response.json()["services"]["ingest"]
        assert ingest.startswith("unhealthy: commits failing since"), ingest
        assert reason in ingest, ingest


async def test_sqlite_disk_full_is_unhealthy_and_recovers(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", "6m") as disk:
        url = f"sqlite:///{disk / 'cell-monitor.sqlite3'}"
        settings = make_settings(url, tmp_path / "data", commit_max_events=50)
        async with (
            live_server(settings) as base,
            httpx.AsyncClient(base_url=base, timeout=30) as http,
        ):
            assert (await _post(http)).status_code == 202
            assert await _status(http, "/health/ready") == 200
            filler = fill(disk)
            # Each request needs new pages: the full disk refuses the commit.
            response = await _post(http, count=20, code_chars=20_000)
            assert response.status_code == 503, response.text
            assert "disk is full" in response.json()["detail"]
            assert "sqlite" not in response.text.lower()  # no database internals
            await _assert_failing(http, "disk is full")
            # Still failing on the next look: the probe write cannot commit either.
            await _assert_failing(http, "disk is full")

            filler.unlink()

            # No event needed: the health probe's write succeeds and health recovers.
            async def ready() -> bool:
                return await _status(http, "/health/ready") == 200

            await eventually(
                ready, timeout=DEADLINE, what="/health/ready recovers after space is freed"
            )
            body = (await http.get("/health")).json()
            assert body["status"] == "healthy" and "ingest" not in body["services"]
            assert (await _post(http, count=5, code_chars=1000)).status_code == 202


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_postgres_read_only_is_unhealthy_and_recovers(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    name = make_url(database_url).database
    admin = make_url(database_url).set(drivername="postgresql", database="postgres")
    dsn = admin.render_as_string(hide_password=False)
    # Only this test's own database, and only its connections (new ones read the setting).
    reconnect = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    async with (
        live_server(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        assert (await _post(http)).status_code == 202
        assert await _status(http, "/health/ready") == 200
        await _admin(
            dsn, f"ALTER DATABASE {name} SET default_transaction_read_only = on", reconnect
        )

        async def refused() -> bool:
            return (await _post(http)).status_code == 503

        await eventually(
            refused, timeout=DEADLINE, what="ingest answers 503 on a read-only database"
        )
        response = await _post(http)
        assert "read-only" in response.json()["detail"], response.text
        assert "25006" not in response.text and "INSERT" not in response.text
        await _assert_failing(http, "read-only")

        await _admin(dsn, f"ALTER DATABASE {name} RESET default_transaction_read_only", reconnect)

        async def ready() -> bool:
            return await _status(http, "/health/ready") == 200

        await eventually(
            ready, timeout=DEADLINE, what="/health/ready recovers once the database is writable"
        )
        assert (await _post(http)).status_code == 202
