"""Fixtures shared by every tier.

Integration tests run on a real SQLite file always, and on a real PostgreSQL
whenever CELL_MONITOR_TEST_DATABASE_URL points at a server (CI sets it): each
test gets its own database, cloned from a migrated template. InfluxDB tests run
when CELL_MONITOR_TEST_INFLUXDB_URL points at an InfluxDB 1.x (CI starts one);
each test writes to a database of its own.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from cell_monitor.config import Settings
from cell_monitor.storage import migrations
from tests.influx_support import INFLUX_ENV, drop_database, influx_url, new_database_name
from tests.support import PG_ENV, live_server, make_settings, missing_service, sign_in

# Unique per test session: several sessions may share one PostgreSQL server.
TEMPLATE_DB = f"cell_monitor_test_template_{uuid.uuid4().hex[:8]}"


def _pg_admin_dsn() -> str | None:
    raw = os.environ.get(PG_ENV)
    if not raw:
        return None
    return make_url(raw).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_url(database: str) -> str:
    dsn = _pg_admin_dsn()
    assert dsn is not None
    return make_url(dsn).set(database=database).render_as_string(hide_password=False)


def _admin(*statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(_pg_admin_dsn())
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated PostgreSQL database that per-test databases are cloned from."""
    _admin(f"CREATE DATABASE {TEMPLATE_DB}")
    settings = make_settings(_pg_url(TEMPLATE_DB), tmp_path_factory.mktemp("template"))
    migrations.upgrade(settings)
    yield TEMPLATE_DB
    drop_pg_database(TEMPLATE_DB)


def new_pg_database(template: str | None) -> tuple[str, str]:
    name = f"cell_monitor_test_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return name, _pg_url(name)


def drop_pg_database(name: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not _pg_admin_dsn():
        missing_service(f"{PG_ENV} is not set")
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty database of the backend under test."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'cell-monitor.sqlite3'}"
        migrations.upgrade(make_settings(url, tmp_path))
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name, url = new_pg_database(template)
    yield url
    drop_pg_database(name)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of the backend under test with no schema at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty' / 'cell-monitor.sqlite3'}"
        return
    name, url = new_pg_database(None)
    yield url
    drop_pg_database(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    """Base URL of a real server (uvicorn, real socket) on `settings`."""
    async with live_server(settings) as url:
        yield url


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the server, signed in as the test instructor."""
    headers = await sign_in(server)
    async with httpx.AsyncClient(base_url=server, timeout=30, headers=headers) as http:
        yield http


@pytest.fixture
async def anonymous(server: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the server that has not signed in."""
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def influx_server() -> str:
    """Base URL of the shared InfluxDB of the test run (CI starts one)."""
    url = influx_url()
    if not url:
        missing_service(f"{INFLUX_ENV} is not set")
    return url


@pytest.fixture
def influx_database(influx_server: str) -> Iterator[str]:
    """A database name of this test's own; the sink creates it, teardown drops it."""
    name = new_database_name()
    yield name
    drop_database(influx_server, name)


@pytest.fixture
def influx_settings(
    database_url: str, tmp_path: Path, influx_server: str, influx_database: str
) -> Settings:
    """Settings with the InfluxDB sink on, tuned for quick tests."""
    return make_settings(
        database_url,
        tmp_path,
        influxdb_url=influx_server,
        influxdb_bucket=influx_database,
        influx_flush_seconds=0.1,
        influx_max_backoff_seconds=1.0,
        influx_gap_seconds=3.0,
    )


REDIS_ENV = "CELL_MONITOR_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> str:
    """The Redis of the test run (CI sets CELL_MONITOR_TEST_REDIS_URL); see missing_service."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        missing_service(f"{REDIS_ENV} is not set")
    return url


@pytest.fixture
def channel() -> str:
    # Concurrent test runs share the Redis server; pub/sub channels are global.
    return f"cell-monitor-test-{uuid.uuid4().hex[:8]}"
