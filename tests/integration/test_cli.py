"""The `cell-monitor` command, run as a real subprocess on real databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cell_monitor import __version__
from cell_monitor.storage import migrations
from tests.support import (
    ServerProcess,
    event,
    free_port,
    instructor_headers,
    is_config_variable,
    query_sql,
)

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).with_name("cell-monitor")
MODULE = (sys.executable, "-m", "cell_monitor.cli")
# Generous upper bound for one CLI run; a hang fails the test instead of blocking it.
CLI_TIMEOUT = 60

postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    command: tuple[str, ...] = MODULE,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a clean configuration environment plus `env`."""
    full_env = {k: v for k, v in os.environ.items() if not is_config_variable(k)}
    full_env["XDG_DATA_HOME"] = str(cwd / "xdg")
    full_env.update(env or {})
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """For ServerProcess (which inherits os.environ): no stray configuration."""
    for name in list(os.environ):
        if is_config_variable(name):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)  # no .env file of the caller's working directory


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections (kernel backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


# --- --version ---------------------------------------------------------------


@pytest.mark.parametrize("command", [MODULE, (str(CONSOLE_SCRIPT),)], ids=["module", "script"])
def test_version(command: tuple[str, ...], tmp_path: Path) -> None:
    if not Path(command[0]).exists():
        pytest.skip(f"{command[0]} is not installed")
    result = run_cli("--version", cwd=tmp_path, command=command)
    assert result.returncode == 0, output_of(result)
    assert __version__ in result.stdout
    assert "cell-monitor" in result.stdout


# --- db upgrade / db current -------------------------------------------------


def test_db_upgrade_then_current(empty_database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": empty_database_url}
    head = migrations.head_revision()

    upgraded = run_cli("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, output_of(upgraded)
    assert head in upgraded.stdout

    current = run_cli("db", "current", cwd=tmp_path, env=env)
    assert current.returncode == 0, output_of(current)
    assert f"database: {head}" in current.stdout


def test_db_current_on_empty_database_exits_1(empty_database_url: str, tmp_path: Path) -> None:
    result = run_cli("db", "current", cwd=tmp_path, env={"DATABASE_URL": empty_database_url})
    assert result.returncode == 1, output_of(result)
    assert "database: empty" in result.stdout
    assert migrations.head_revision() in result.stdout
    assert "Traceback" not in output_of(result)


def test_db_upgrade_on_unreachable_postgresql_is_readable(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/cell_monitor"
    result = run_cli("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in output_of(result)


def test_db_current_on_unreachable_postgresql_is_readable(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/cell_monitor"
    result = run_cli("db", "current", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode != 0
    assert "Traceback" not in output_of(result)
    assert f"127.0.0.1:{port}" in result.stderr


# --- serve: database checks before serving ----------------------------------


def test_serve_refuses_unreachable_postgresql(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: connection refused
    url = f"postgresql://postgres@127.0.0.1:{port}/cell_monitor"
    result = run_cli("serve", "--port", str(free_port()), cwd=tmp_path, env={"DATABASE_URL": url})
    output = output_of(result)
    assert result.returncode != 0, output
    assert f"127.0.0.1:{port}" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in output


def test_serve_refuses_postgresql_that_never_answers(silent_listener: int, tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_listener}/cell_monitor"
    env = {"DATABASE_URL": url, "CELL_MONITOR_DB_TIMEOUT_SECONDS": "0.5"}
    result = run_cli("serve", "--port", str(free_port()), cwd=tmp_path, env=env)
    output = output_of(result)
    assert result.returncode != 0, output
    assert f"127.0.0.1:{silent_listener}" in result.stderr
    assert "timeout" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in output


def test_serve_refuses_outdated_schema(database_url: str, tmp_path: Path) -> None:
    query_sql(database_url, "UPDATE alembic_version SET version_num = '0000'")
    env = {"DATABASE_URL": database_url}
    result = run_cli("serve", "--port", str(free_port()), cwd=tmp_path, env=env)
    output = output_of(result)
    assert result.returncode != 0, output
    assert "cell-monitor db upgrade" in result.stderr
    assert "0000" in result.stderr
    assert migrations.head_revision() in result.stderr
    assert "Traceback" not in output
    # ... and `db current` agrees that the schema is behind.
    current = run_cli("db", "current", cwd=tmp_path, env=env)
    assert current.returncode == 1, output_of(current)
    assert "database: 0000" in current.stdout


@postgres_only
def test_serve_refuses_postgresql_without_schema(empty_database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": empty_database_url}
    result = run_cli("serve", "--port", str(free_port()), cwd=tmp_path, env=env)
    output = output_of(result)
    assert result.returncode != 0, output
    assert "cell-monitor db upgrade" in result.stderr
    assert "Traceback" not in output
    # Refusing must not have created anything: the database is still empty.
    assert query_sql(
        empty_database_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    ) == [(0,)]


@pytest.mark.usefixtures("clean_environ")
def test_serve_creates_embedded_sqlite_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh-data"
    env = {"CELL_MONITOR_DATA_DIR": str(data_dir)}
    server = ServerProcess(env)
    try:
        server.wait_ready()
        sent = event()
        response = httpx.post(f"{server.url}/api/v1/events", json=[sent], timeout=30)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1
        headers = instructor_headers(server.url)
        page = httpx.get(f"{server.url}/api/v1/events", headers=headers, timeout=30).json()
        assert [item["eventId"] for item in page["items"]] == [sent["eventId"]]
    finally:
        server.stop()
    database = data_dir / "cell-monitor.sqlite3"
    assert database.is_file()
    url = f"sqlite:///{database}"
    assert query_sql(url, "SELECT version_num FROM alembic_version") == [
        (migrations.head_revision(),)
    ]
    assert query_sql(url, "SELECT event_id FROM events") == [(sent["eventId"],)]


# --- invalid configuration ---------------------------------------------------


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"CELL_MONITOR_PORT": "notanumber"}, "CELL_MONITOR_PORT"),
        ({"CELL_MONITOR_CORS_ORIGINS": "*"}, "CELL_MONITOR_CORS_ORIGINS"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "::not a url::"}, "DATABASE_URL"),
        ({"CELL_MONITOR_WORKERS": "0"}, "CELL_MONITOR_WORKERS"),
        ({"CELL_MONITOR_LOG_LEVEL": "LOUD"}, "CELL_MONITOR_LOG_LEVEL"),
    ],
    ids=["port", "cors-wildcard", "mysql", "not-a-url", "workers", "log-level"],
)
def test_serve_rejects_invalid_configuration(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    env = {"CELL_MONITOR_DATA_DIR": str(tmp_path / "data"), **env}
    env.setdefault("CELL_MONITOR_PORT", str(free_port()))  # --port would override it
    result = run_cli("serve", cwd=tmp_path, env=env)
    output = output_of(result)
    assert result.returncode != 0, output
    assert variable in result.stderr
    assert "Traceback" not in output
    assert not (tmp_path / "data").exists(), "nothing is created before the config is valid"


@pytest.mark.parametrize("args", [("db", "upgrade"), ("db", "current")], ids=["upgrade", "current"])
def test_db_commands_reject_invalid_database_url(args: tuple[str, ...], tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path, env={"DATABASE_URL": "mysql://x"})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in output_of(result)


def test_cors_wildcard_error_is_labelled_with_its_variable(tmp_path: Path) -> None:
    env = {"CELL_MONITOR_CORS_ORIGINS": "*"}
    result = run_cli("serve", "--port", str(free_port()), cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "CELL_MONITOR_:" not in result.stderr
    assert "CELL_MONITOR_CORS_ORIGINS:" in result.stderr


async def test_export_writes_files_for_analysis(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    """`cell-monitor export DIR` against the server's database; CSV and Parquet."""
    response = await client.post("/api/v1/events", json=[event(), event(eventType="help")])
    assert response.status_code == 202
    for fmt in ("csv", "parquet"):
        out = tmp_path / fmt
        result = run_cli(
            "export", str(out), "--format", fmt, cwd=tmp_path, env={"DATABASE_URL": database_url}
        )
        assert result.returncode == 0, result.stderr
        assert f"Wrote 3 {fmt} files" in result.stdout and "events (2 rows)" in result.stdout
        assert sorted(p.name for p in out.iterdir()) == [
            f"events.{fmt}",
            f"executions.{fmt}",
            f"students.{fmt}",
        ]
    bad = run_cli("export", str(tmp_path / "x"), "--format", "xlsx", cwd=tmp_path)
    assert bad.returncode == 2 and "xlsx" in bad.stderr
