"""`cell-monitor doctor` against real failures: each provoked for real, then its finding and fix.

Services here: the test database (SQLite file or PostgreSQL), a real server on
a real socket, sockets bound by the test. Redis and InfluxDB: test_doctor_services.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from cell_monitor.config import Settings
from cell_monitor.doctor.findings import Finding, Report, Urgency
from cell_monitor.doctor.options import DoctorOptions
from cell_monitor.doctor.runner import run_doctor
from cell_monitor.storage import migrations
from tests.support import (
    event,
    eventually,
    free_port,
    is_config_variable,
    live_server,
    make_settings,
    query_sql,
)

JUPYTER_ORIGIN = "http://localhost:8888"


async def diagnose(settings: Settings, **options: Any) -> Report:
    options.setdefault("check_timeout", 15.0)
    return await run_doctor(DoctorOptions(settings=settings, **options))


def finding(report: Report, finding_id: str) -> Finding:
    matches = [f for f in report.findings if f.id == finding_id]
    assert matches, f"no {finding_id} in {[f.id for f in report.findings]}"
    return matches[0]


def ids(report: Report) -> set[str]:
    return {f.id for f in report.findings}


async def test_healthy_setup_has_no_high_finding_and_exits_zero(settings: Settings) -> None:
    async with live_server(settings) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.post("/api/v1/events", json=[event()])).status_code == 202
        report = await diagnose(settings, server_url=url, jupyter_origins=(JUPYTER_ORIGIN,))
        high = [f.id for f in report.findings if f.urgency == Urgency.high]
        assert high == [], report.findings
        checks = {r.check: r for r in report.results}
        assert not checks["api"].findings and "healthy" in checks["api"].summary
        assert not checks["api.cors"].findings
        assert not checks["database"].findings
        assert "last event stored" in checks["flow"].summary

        env = {
            **{k: v for k, v in _clean_env().items()},
            "DATABASE_URL": str(settings.database_url),
            "CELL_MONITOR_DATA_DIR": str(settings.data_dir),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cell_monitor.cli", "doctor", "--server", url, "--json",
            "--jupyter-origin", JUPYTER_ORIGIN,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
    data = json.loads(out)
    assert process.returncode == 0, (data, err)
    assert data["healthy"] is True and data["counts"]["high"] == 0
    assert {r["check"] for r in data["results"]} >= {"config", "ports", "database", "api", "flow"}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not is_config_variable(k)}


async def test_api_down_is_high_and_the_command_exits_non_zero(
    settings: Settings, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    report = await diagnose(settings, server_url=down, only=("api",))
    found = finding(report, "api.unreachable")
    assert found.urgency == Urgency.high and down in found.detail
    assert "cell-monitor serve" in found.fix and "--server" in found.fix
    assert not report.healthy

    env = {**_clean_env(), "DATABASE_URL": str(settings.database_url)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cell_monitor.cli", "doctor", "--server", down, "--only", "api",
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 1
    text = out.decode()
    assert "HIGH urgency" in text and "[api.unreachable]" in text and "fix:" in text


async def test_unhealthy_api_lists_the_broken_service(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with live_server(broken) as url:
        report = await diagnose(settings, server_url=url, only=("api",))
    found = finding(report, "api.unhealthy")
    assert "redis" in found.title and found.urgency == Urgency.high


@pytest.fixture
def squatter() -> Iterator[int]:
    """A socket that accepts connections and never answers: a port taken by something else."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


async def test_port_held_by_another_program_is_a_conflict(
    settings: Settings, squatter: int
) -> None:
    taken = settings.model_copy(update={"port": squatter})
    report = await diagnose(taken, only=("ports",))
    found = finding(report, "ports.conflict")
    assert found.urgency == Urgency.high
    assert f"Port {squatter}" in found.title and "cell-monitor" in found.title
    assert f"lsof -i :{squatter}" in found.fix and "CELL_MONITOR_PORT" in found.fix
    if sys.platform == "linux":  # the holder is named, like lsof would
        assert f"held by pid {os.getpid()} " in found.detail


async def test_port_of_a_running_server_is_no_conflict(settings: Settings) -> None:
    async with live_server(settings) as url:
        report = await diagnose(settings, server_url=url, only=("ports",))
    port = url.rsplit(":", 1)[1]
    assert "ports.conflict" not in ids(report) or all(port not in f.title for f in report.findings)
    assert f"{port} cell-monitor" in report.results[0].summary


async def test_missing_cors_origin_is_no_finding_for_the_extension(settings: Settings) -> None:
    origin = "https://hub.example.edu"
    async with live_server(settings) as url:
        report = await diagnose(
            settings, server_url=url, jupyter_origins=(f"{origin}/user/ada/lab",), only=("api.",)
        )
    assert not report.findings, [f.id for f in report.findings]
    cors = next(result for result in report.results if result.check == "api.cors")
    assert "not needed by the cell-monitor extension" in cors.summary
    assert origin in cors.summary


async def test_missing_cors_origin_is_reported_for_direct_browser_clients(
    settings: Settings,
) -> None:
    origin = "https://hub.example.edu"
    async with live_server(settings) as url:
        report = await diagnose(
            settings,
            server_url=url,
            jupyter_origins=(f"{origin}/user/ada/lab",),
            only=("api.",),
            direct_browser_clients=True,
        )
        allowed = await diagnose(
            settings,
            server_url=url,
            jupyter_origins=(JUPYTER_ORIGIN,),
            direct_browser_clients=True,
        )
    found = finding(report, "api.cors_origin_missing")
    assert origin in found.title and "running API" in found.detail
    assert f"CELL_MONITOR_CORS_ORIGINS=http://localhost:8888,http://127.0.0.1:8888,{origin}" in (
        found.fix
    )
    assert "api.cors_origin_missing" not in ids(allowed)


async def test_no_events_for_a_long_time(settings: Settings, database_url: str) -> None:
    report = await diagnose(settings, only=("flow",))
    assert finding(report, "flow.no_events").urgency == Urgency.low

    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/api/v1/events", json=[event()])).status_code == 202
    back = (
        "now() - interval '3 hours'"
        if "postgresql" in database_url
        else ("datetime('now', '-3 hours')")
    )
    await asyncio.to_thread(query_sql, database_url, f"UPDATE events SET received_at = {back}")
    report = await diagnose(settings, only=("flow",), stale_after_seconds=3600)
    found = finding(report, "flow.stale")
    assert found.urgency == Urgency.medium and "3.0 h" in found.title
    assert "CELL_MONITOR_SERVER_URL" in found.fix


async def test_outdated_and_missing_schema(empty_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(empty_database_url, tmp_path)
    if make_url(empty_database_url).get_backend_name() == "sqlite":
        Path(make_url(empty_database_url).database or "").parent.mkdir(parents=True)
        query_sql(empty_database_url, "CREATE TABLE unrelated (id INTEGER)")
    report = await diagnose(settings, only=("database",))
    found = finding(report, "database.schema_missing")
    assert found.urgency == Urgency.high and "cell-monitor db upgrade" in found.fix

    await asyncio.to_thread(migrations.upgrade, settings, None, "0002")
    report = await diagnose(settings, only=("database",))
    found = finding(report, "database.schema_outdated")
    assert "0002" in found.detail and migrations.head_revision() in found.detail
    assert "cell-monitor db upgrade" in found.fix

    await asyncio.to_thread(migrations.upgrade, settings)
    report = await diagnose(settings, only=("database",))
    assert report.findings == [] and migrations.head_revision() in report.results[0].summary


async def test_postgresql_unreachable(tmp_path: Path) -> None:
    url = f"postgresql://cellmonitor_user:pw@127.0.0.1:{free_port()}/cellmonitor_db"
    report = await diagnose(make_settings(url, tmp_path), only=("database", "flow"))
    found = finding(report, "database.unreachable")
    assert found.urgency == Urgency.high and "docker compose restart postgres" in found.fix
    assert "DATABASE_URL" in found.fix
    flow = {r.check: r for r in report.results}["flow"]
    assert flow.skipped and not flow.findings


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_postgresql_role_or_database_that_does_not_exist(
    database_url: str, tmp_path: Path
) -> None:
    # The test server trusts 127.0.0.1, so a wrong password cannot fail here;
    # an unknown role fails the same authentication step (SQLSTATE 28000).
    url = make_url(database_url)
    no_role = url.set(username="nobody_here", password="x").render_as_string(False)
    report = await diagnose(make_settings(no_role, tmp_path), only=("database",))
    found = finding(report, "database.auth_failed")
    assert "nobody_here" in found.detail and "POSTGRES_PASSWORD" in found.fix

    no_db = url.set(database="cell_monitor_absent_db").render_as_string(False)
    report = await diagnose(make_settings(no_db, tmp_path), only=("database",))
    found = finding(report, "database.missing")
    assert "cell_monitor_absent_db" in found.detail and "createdb" in found.fix


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_postgresql_slow_statement_and_table_sizes(
    settings: Settings, database_url: str
) -> None:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    sleeper = asyncio.create_task(connection.execute("SELECT pg_sleep(30)"))
    try:

        async def slow_statement_reported() -> Report | None:
            report = await diagnose(settings, only=("database.performance",), slow_query_seconds=2)
            return report if any(f.id == "database.slow_queries" for f in report.findings) else None

        report = await eventually(
            slow_statement_reported, timeout=30, what="pg_sleep(30) reported as slow", interval=0.5
        )
    finally:
        sleeper.cancel()
        connection.terminate()
    found = finding(report, "database.slow_queries")
    assert "pg_sleep(30)" in found.detail and "pg_cancel_backend" in found.fix
    result = report.results[0]
    assert "events" in result.facts["table_bytes"] and "connections" in result.summary


async def test_websocket_snapshot_and_a_proxy_that_drops_the_upgrade(settings: Settings) -> None:
    async with live_server(settings) as url:
        report = await diagnose(settings, server_url=url, only=("api.websocket",))
        # Anonymous: the upgrade passes, and the server asks for a login.
        assert report.findings == [] and "upgrades" in report.results[0].summary

        # A plain HTTP proxy that forwards requests but not the Upgrade header.
        async def no_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        proxy = await asyncio.start_server(no_upgrade, "127.0.0.1", 0)
        proxy_url = f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
        try:
            report = await diagnose(settings, server_url=proxy_url, only=("api.websocket",))
        finally:
            proxy.close()
    found = finding(report, "api.websocket_failed")
    assert "HTTP 400" in found.detail and "proxy_set_header Upgrade" in found.fix
