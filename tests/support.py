"""Test support: real servers on real sockets, fresh databases, event factories."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy.engine import make_url

from cell_monitor.accounts.sessions import COOKIE_NAME
from cell_monitor.config import Settings
from cell_monitor.server.app import create_app
from cell_monitor.server.http import server_config

T = TypeVar("T")

PG_ENV = "CELL_MONITOR_TEST_DATABASE_URL"
# The account every test server starts with (CELL_MONITOR_INITIAL_ADMIN_PASSWORD).
TEST_ADMIN = "admin"
TEST_ADMIN_PASSWORD = "test-admin-pw-4f9c2a"


def in_ci() -> bool:
    """CI=true (.ci/run sets it): every service and tool the tests need must be there."""
    return os.environ.get("CI", "").lower() in {"true", "1"}


def missing_service(reason: str) -> NoReturn:
    """Skip a test whose service is not there; under CI=true, fail it instead.

    CI starts PostgreSQL, Redis and InfluxDB (.ci/run): a test that skips there
    would pass a run that tested nothing.
    """
    if in_ci():
        pytest.fail(f"{reason} (CI=true: every service must be available)", pytrace=False)
    pytest.skip(reason)


async def eventually(
    check: Callable[[], Awaitable[T] | T],
    timeout: float = 20.0,
    what: str = "the condition",
    interval: float = 0.05,
    context: Callable[[], str] | None = None,
) -> T:
    """Call `check` until it returns something truthy (returned) or stops raising AssertionError.

    Fails after `timeout` seconds with what was awaited and the last assertion;
    `context` adds to that message, e.g. the log of the process under test.
    """
    deadline = time.monotonic() + timeout
    while True:
        failure: AssertionError | None = None
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result  # type: ignore[return-value]
        except AssertionError as exc:
            failure = exc
        if time.monotonic() > deadline:
            detail = f"\n{context()}" if context else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}") from (
                failure
            )
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T],
    timeout: float = 20.0,
    what: str = "the condition",
    interval: float = 0.1,
    context: Callable[[], str] | None = None,
) -> T:
    """eventually() for synchronous tests (browsers, child processes).

    `context` adds to the failure message, e.g. the log of the process under test.
    """
    deadline = time.monotonic() + timeout
    while True:
        failure: AssertionError | None = None
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            failure = exc
        if time.monotonic() > deadline:
            detail = f"\n{context()}" if context else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}") from (
                failure
            )
        time.sleep(interval)


def answers(url: str, status: int = 200, **kwargs: Any) -> bool:
    """Whether GET `url` answers `status` right now (False while nothing listens there)."""
    try:
        return httpx.get(url, timeout=kwargs.pop("timeout", 2), **kwargs).status_code == status
    except httpx.HTTPError:
        return False


def wait_started(
    process: subprocess.Popen[Any],
    ready: Callable[[], bool],
    what: str,
    timeout: float = 30.0,
    log: Callable[[], str] = lambda: "",
) -> None:
    """Wait until a child process is `ready`; fail at once, with its log, if it exits."""

    def check() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early (status {process.returncode}):\n{log()}")
        return ready()

    eventually_sync(check, timeout, what=f"{what} to answer", context=log)


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: no .env file, nothing from the caller's environment.

    The server creates the account TEST_ADMIN / TEST_ADMIN_PASSWORD at its start.
    """
    overrides.setdefault("initial_admin_password", TEST_ADMIN_PASSWORD)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=data_dir,
        **overrides,
    )


def event(**fields: Any) -> dict[str, Any]:
    """A valid cell_executed event in the wire format; override any field."""
    body: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "eventType": "cell_executed",
        "eventTime": datetime.now(timezone.utc).isoformat(),
        "emailAddress": "ada@example.org",
        "userName": "Ada",
        "teamName": "A",
        "sessionId": "session-1",
        "notebookPath": "lesson1.ipynb",
        "cellId": "cell-1",
        "cellIndex": 0,
        "cellType": "code",
        "code": "print(1)",
        "executionCount": 1,
        "hasError": False,
        "result": "1",
        "executionDurationMs": 12.5,
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def _login_headers(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, f"sign-in failed: {response.status_code} {response.text}"
    return {"Cookie": f"{COOKIE_NAME}={response.cookies[COOKIE_NAME]}"}


async def sign_in(
    base_url: str, username: str = TEST_ADMIN, password: str = TEST_ADMIN_PASSWORD
) -> dict[str, str]:
    """Log in on a server; returns the headers (session cookie) of an instructor's requests."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post("/login", json={"username": username, "password": password})
    return _login_headers(response)


def instructor_headers(
    base_url: str, username: str = TEST_ADMIN, password: str = TEST_ADMIN_PASSWORD
) -> dict[str, str]:
    """sign_in for synchronous tests (servers in another process)."""
    response = httpx.post(
        f"{base_url}/login", json={"username": username, "password": password}, timeout=30
    )
    return _login_headers(response)


@asynccontextmanager
async def instructor_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the server at `base_url`, signed in as the test instructor."""
    headers = await sign_in(base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as http:
        yield http


@asynccontextmanager
async def live_server(settings: Settings, port: int = 0) -> AsyncIterator[str]:
    """Serve create_app(settings) with uvicorn (on `port`, default a free one); yields the URL."""
    # The configuration `cell-monitor serve` uses (read timeouts, proxy headers).
    config = server_config(
        create_app(settings),
        settings,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits when the lifespan fails
            raise RuntimeError("the server did not start (see the log above)") from exc

    task = asyncio.create_task(serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def upgrade_database(env: dict[str, str]) -> None:
    """`cell-monitor db upgrade` in a child process, with `env` over the caller's environment."""
    command = [sys.executable, "-m", "cell_monitor.cli", "db", "upgrade"]
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"db upgrade failed:\n{result.stdout}{result.stderr}")


class ServerProcess:
    """`cell-monitor serve` as a real child process (tests and benchmarks).

    `prefix` runs it under another command (e.g. `taskset -c 0`); `migrate`
    runs `cell-monitor db upgrade` first (PostgreSQL is never migrated by serve).
    """

    def __init__(
        self,
        env: dict[str, str],
        *args: str,
        port: int | None = None,
        admin_password: str | None = TEST_ADMIN_PASSWORD,
        prefix: Sequence[str] = (),
        migrate: bool = False,
        cwd: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env}
        self.env = env  # what the test gave (the rest is the caller's environment)
        if admin_password is not None:
            full_env.setdefault("CELL_MONITOR_INITIAL_ADMIN_PASSWORD", admin_password)
        if migrate:
            upgrade_database(full_env)
        command = [sys.executable, "-m", "cell_monitor.cli", "serve", "--port", str(self.port)]
        # A file, not a pipe: nobody reads a pipe while the server runs, and a
        # full pipe would block the server's logging.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the object
        self.process = subprocess.Popen(
            [*prefix, *command, *args],
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )

    def wait_ready(self, timeout: float = 30.0) -> ServerProcess:
        ready = lambda: answers(f"{self.url}/health/ready", timeout=1)  # noqa: E731
        wait_started(self.process, ready, "the server", timeout, self.output)
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        stop_process(self.process)


@contextmanager
def two_workers(env: dict[str, str]) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two `cell-monitor serve` processes on the same database and broker, stopped after."""
    servers = [ServerProcess(env), ServerProcess(env)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def stop_process(process: subprocess.Popen[Any], grace: float = 15) -> None:
    """Terminate a child process; kill it when it does not exit within `grace` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def is_config_variable(name: str) -> bool:
    """Variables the server reads (they must not leak from the caller's environment)."""
    if name == PG_ENV or name.startswith("CELL_MONITOR_TEST_"):
        return False  # the test suite's own settings, unknown to the server
    return name.startswith(("CELL_MONITOR_", "INFLUXDB_")) or name in {
        "DATABASE_URL",
        "REDIS_URL",
        "PROMETHEUS_MULTIPROC_DIR",
    }


def query_sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on the database directly (no cell_monitor code involved)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        connection = sqlite3.connect(parsed.database)
        try:
            with connection:
                return [tuple(row) for row in connection.execute(statement).fetchall()]
        finally:
            connection.close()
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(dsn)
        try:
            return [tuple(row) for row in await connection.fetch(statement)]
        finally:
            await connection.close()

    return asyncio.run(run())
