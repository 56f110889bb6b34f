"""`cell-monitor doctor` on Redis, InfluxDB and JupyterLab, each failure provoked for real."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cell_monitor.config import Settings
from cell_monitor.doctor.findings import Report, Urgency
from tests.influx_support import InfluxProcess
from tests.integration.test_doctor import diagnose, finding, ids
from tests.redis_support import RedisServer
from tests.support import eventually, free_port, missing_service

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


async def test_redis_nothing_listening_is_error_111(settings: Settings) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    report = await diagnose(settings.model_copy(update={"redis_url": url}), only=("redis",))
    found = finding(report, "redis.unreachable")
    assert found.urgency == Urgency.high
    assert "111" in found.detail and "connection refused" in found.detail
    assert "redis-cli ping" in found.fix and "REDIS_URL" in found.fix


async def test_redis_running_then_stopped(settings: Settings, redis_server: RedisServer) -> None:
    configured = settings.model_copy(update={"redis_url": redis_server.url})
    report = await diagnose(configured, only=("redis",))
    assert report.findings == []
    assert "answers PING" in report.results[0].summary
    assert report.results[0].facts["clients"] >= 1

    redis_server.stop()
    report = await diagnose(configured, only=("redis",))
    assert finding(report, "redis.unreachable").urgency == Urgency.high


async def test_redis_password_refused(settings: Settings, tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="s3cret-pass").start()
    try:
        no_password = settings.model_copy(update={"redis_url": server.url})
        report = await diagnose(no_password, only=("redis",))
        found = finding(report, "redis.auth_failed")
        assert "redis://:password@host" in found.fix
        good = f"redis://:s3cret-pass@127.0.0.1:{server.port}/0"
        report = await diagnose(settings.model_copy(update={"redis_url": good}), only=("redis",))
        assert report.findings == []
    finally:
        server.stop()


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[InfluxProcess]:
    if not InfluxProcess.available():
        missing_service("influxd is not installed")
    server = InfluxProcess(tmp_path / "influx").start()
    yield server
    server.stop()


async def test_influx_missing_database_then_created_then_stopped(
    settings: Settings, influxd: InfluxProcess
) -> None:
    configured = settings.model_copy(
        update={"influxdb_url": influxd.url, "influxdb_bucket": "cellmonitor"}
    )
    report = await diagnose(configured, only=("influx",))
    found = finding(report, "influx.database_missing")
    assert found.urgency == Urgency.medium
    assert "CREATE DATABASE" in found.fix and "INFLUXDB_BUCKET" in found.fix
    # The doctor only looks: the database is still missing afterwards.
    assert not _databases(influxd.url) & {"cellmonitor"}

    _influx_query(influxd.url, 'CREATE DATABASE "cellmonitor"')
    report = await diagnose(configured, only=("influx",))
    assert report.findings == [] and "accepts writes" in report.results[0].summary

    influxd.stop()
    report = await diagnose(configured, only=("influx",))
    found = finding(report, "influx.unreachable")
    assert "influx ping" in found.fix and "catches up" in found.fix


async def test_influx_with_auth_refuses_anonymous_writes(
    settings: Settings, tmp_path: Path
) -> None:
    if not InfluxProcess.available():
        missing_service("influxd is not installed")
    server = InfluxProcess(tmp_path / "influx-auth")
    config = server.root / "influxdb.conf"
    config.write_text(config.read_text().replace("auth-enabled = false", "auth-enabled = true"))
    server.start()
    try:
        _influx_query(server.url, "CREATE USER admin WITH PASSWORD 'adminpw' WITH ALL PRIVILEGES")
        anonymous = settings.model_copy(update={"influxdb_url": server.url})
        report = await diagnose(anonymous, only=("influx",))
        found = finding(report, "influx.unauthorized")
        assert "INFLUXDB_URL" in found.fix or "INFLUXDB_TOKEN" in found.fix
    finally:
        server.stop()


def _influx_query(url: str, statement: str) -> None:
    import httpx

    httpx.post(f"{url}/query", data={"q": statement}, timeout=10).raise_for_status()


def _databases(url: str) -> set[str]:
    import httpx

    answer = httpx.post(f"{url}/query", data={"q": "SHOW DATABASES"}, timeout=10).json()
    series = answer["results"][0].get("series") or [{"values": []}]
    return {row[0] for row in series[0].get("values") or []}


@pytest.fixture
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Jupyter config dir (highest precedence) and data dir."""
    config = tmp_path / "jupyter-config"
    config.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    # In a virtualenv Jupyter otherwise ranks the environment's config above the user's.
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.delenv("CELL_MONITOR_QUEUE_PATH", raising=False)
    monkeypatch.delenv("CELL_MONITOR_SERVER_URL", raising=False)
    return config


async def test_jupyter_extensions_disabled(settings: Settings, jupyter_dirs: Path) -> None:
    (jupyter_dirs / "labconfig").mkdir()
    (jupyter_dirs / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"cell-monitor": True}})
    )
    (jupyter_dirs / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"cell_monitor": False}}})
    )
    report = await diagnose(settings, only=("jupyter",))
    assert {"jupyter.labextension_disabled", "jupyter.server_extension_disabled"} <= ids(report)
    assert (
        "jupyter labextension enable cell-monitor"
        in finding(report, "jupyter.labextension_disabled").fix
    )
    assert (
        "jupyter server extension enable cell_monitor"
        in finding(report, "jupyter.server_extension_disabled").fix
    )


async def test_jupyter_events_stuck_in_the_queue(
    settings: Settings, jupyter_dirs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cell_monitor.jupyter_ext.disk_queue import DiskQueue

    queue_path = tmp_path / "queue.sqlite3"
    queue = DiskQueue(queue_path, 1000)
    queue.open()
    await queue.put([{"eventId": f"e{i}", "eventType": "cell_executed"} for i in range(3)])
    queue.close()
    import sqlite3

    with sqlite3.connect(queue_path) as connection:
        connection.execute("UPDATE events SET enqueued_at = enqueued_at - 3600")
    monkeypatch.setenv("CELL_MONITOR_QUEUE_PATH", str(queue_path))
    monkeypatch.setenv("CELL_MONITOR_SERVER_URL", "http://class.example.edu:8000")
    report = await diagnose(settings, only=("jupyter",))
    found = finding(report, "jupyter.queue_backlog")
    assert "3 event(s)" in found.title and "60 min" in found.title
    assert "http://class.example.edu:8000" in found.detail and "curl" in found.fix


async def test_workers_on_another_redis_channel(
    settings: Settings, redis_server: RedisServer
) -> None:
    from tests.support import live_server

    serving = settings.model_copy(
        update={"redis_url": redis_server.url, "redis_channel": "class-a"}
    )
    async with live_server(serving) as url:

        async def subscribed() -> Report:
            report = await diagnose(serving, server_url=url, only=("redis",))
            assert report.results[0].facts["subscribers"] >= 1, report.results[0].facts
            return report

        # The workers subscribe right after start-up.
        report = await eventually(subscribed, timeout=10, what="the server to subscribe")
        assert report.findings == [] and report.results[0].facts["subscribers"] >= 1
        elsewhere = serving.model_copy(update={"redis_channel": "class-b"})
        report = await diagnose(elsewhere, server_url=url, only=("redis",))
    found = finding(report, "redis.no_subscribers")
    assert "'class-b'" in found.title and "CELL_MONITOR_REDIS_CHANNEL" in found.fix
