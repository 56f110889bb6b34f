"""`cell-monitor user` and `token`, the first start, and production's refusals (real processes)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from cell_monitor.accounts import ingest_tokens, users
from cell_monitor.accounts.safety import UnsafeConfiguration, ensure_first_account
from cell_monitor.config import Settings
from cell_monitor.server.app import create_app
from cell_monitor.storage.engine import create_engine
from tests.integration.test_cli import clean_environ, output_of, run_cli
from tests.support import (
    ServerProcess,
    event,
    eventually,
    instructor_headers,
    live_server,
    make_settings,
)

pytestmark = pytest.mark.slow
__all__ = ["clean_environ"]  # a fixture of test_cli, used here


def test_user_commands(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}

    def cli(*args: str, stdin: str | None = None) -> str:
        result = run_cli(*args, cwd=tmp_path, env=env, stdin=stdin)
        assert result.returncode == 0, output_of(result)
        return result.stdout

    assert "No accounts." in cli("user", "list")
    cli("user", "create", "head", "--role", "admin", "--password-stdin", stdin="head-password-1\n")
    cli("user", "create", "ta", "--password-stdin", stdin="ta-password-123\n")
    listing = cli("user", "list")
    assert re.search(r"^head\tadmin\t", listing, re.M) and re.search(
        r"^ta\tinstructor\t", listing, re.M
    )
    assert "password" not in listing.lower()

    short = run_cli(
        "user", "create", "x", "--password-stdin", cwd=tmp_path, env=env, stdin="short\n"
    )
    assert short.returncode != 0 and "at least 10 characters" in short.stderr
    taken = run_cli(
        "user", "create", "ta", "--password-stdin", cwd=tmp_path, env=env, stdin="another-pw-1\n"
    )
    assert taken.returncode != 0 and "exists already" in taken.stderr
    # A taken name is refused before any password prompt.
    prompted = run_cli("user", "create", "ta", cwd=tmp_path, env=env, stdin="")
    assert prompted.returncode != 0 and "exists already" in prompted.stderr
    assert "Password" not in output_of(prompted)
    # An unknown account is named before any confirmation is asked.
    nosuch = run_cli("user", "delete", "nosuch", cwd=tmp_path, env=env, stdin="")
    assert nosuch.returncode != 0 and "no account named 'nosuch'" in nosuch.stderr
    assert "Delete the account" not in output_of(nosuch)
    declined = run_cli("user", "delete", "ta", cwd=tmp_path, env=env, stdin="n\n")
    assert declined.returncode != 0 and "Delete the account 'ta'" in declined.stdout
    assert "ta\t" in cli("user", "list")

    # The teams a TA looks after: set, shown, replaced, cleared.
    assert "'ta' has no teams." in cli("user", "teams", "ta")
    assert "Teams of 'ta': red, blue team." in cli("user", "teams", "ta", "red", " blue team ")
    assert re.search(
        r"^ta\tinstructor\tcreated [^\t]+\tteams red, blue team$", cli("user", "list"), re.M
    )
    assert cli("user", "teams", "ta").strip() == "red, blue team"
    cli("user", "teams", "ta", "green")
    assert cli("user", "teams", "ta").strip() == "green"
    blank = run_cli("user", "teams", "ta", "red", " ", cwd=tmp_path, env=env)
    assert blank.returncode != 0 and "cannot be empty" in blank.stderr
    assert cli("user", "teams", "ta").strip() == "green"
    nobody = run_cli("user", "teams", "nosuch", "red", cwd=tmp_path, env=env)
    assert nobody.returncode != 0 and "no account named 'nosuch'" in nobody.stderr
    assert "no teams now" in cli("user", "teams", "ta", "--clear")
    assert "teams" not in cli("user", "list")

    cli("user", "set-password", "ta", "--password-stdin", stdin="ta-password-456\n")
    assert asyncio.run(_authenticates(database_url, tmp_path, "ta", "ta-password-456"))
    assert not asyncio.run(_authenticates(database_url, tmp_path, "ta", "ta-password-123"))

    last_admin = run_cli("user", "delete", "head", "--yes", cwd=tmp_path, env=env)
    assert last_admin.returncode != 0 and "last admin" in last_admin.stderr
    cli("user", "delete", "ta", "--yes")
    assert "ta\t" not in cli("user", "list")


async def _authenticates(url: str, tmp_path: Path, username: str, password: str) -> bool:
    engine = create_engine(make_settings(url, tmp_path))
    try:
        return await users.authenticate(engine, username, password) is not None
    finally:
        await engine.dispose()


def test_token_commands(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=tmp_path, env=env, stdin=stdin)

    assert cli("token", "list").stdout.startswith("Ingest is open:")
    created = cli("token", "create", "python-101")
    assert created.returncode == 0, output_of(created)
    token = created.stdout.strip()
    assert token.startswith(ingest_tokens.PREFIX) and len(token) > 40
    assert "shown only now" in created.stderr
    assert "Tokens required: 1 active token." in created.stderr
    listing = cli("token", "list").stdout
    assert listing.startswith("Tokens required: 1 active token.")
    assert re.search(r"^#1\tpython-101\tcreated .*\tactive$", listing, re.M)
    assert token not in listing

    second = cli("token", "create", "python-102")
    assert "Tokens required: 2 active tokens." in second.stderr
    revoked = cli("token", "revoke", "2")  # not the last one: no question asked
    assert revoked.returncode == 0, output_of(revoked)
    assert "Tokens required: 1 active token." in revoked.stderr

    # The last active token: a warning and a question; "no" changes nothing.
    kept = cli("token", "revoke", "1", stdin="n\n")
    assert kept.returncode != 0 and "last active ingest token" in kept.stderr
    assert "Tokens required: 1 active token." in cli("token", "list").stdout
    last = cli("token", "revoke", "1", stdin="y\n")
    assert last.returncode == 0, output_of(last)
    assert "Ingest is closed" in last.stderr
    listing = cli("token", "list").stdout
    assert listing.startswith("Ingest is closed") and "token delete --revoked" in listing
    assert re.search(r"^#1\tpython-101\t.*\trevoked ", listing, re.M)
    again = cli("token", "revoke", "1", "--yes")
    assert again.returncode != 0 and "no active ingest token #1" in again.stderr

    # Reopening: deleting the revoked tokens, confirmed, leaves none.
    refused = cli("token", "delete", "--revoked", stdin="n\n")
    assert refused.returncode != 0 and "ingest reopens" in refused.stderr
    assert cli("token", "list").stdout.startswith("Ingest is closed")
    reopened = cli("token", "delete", "--revoked", "--yes")
    assert reopened.returncode == 0, output_of(reopened)
    assert "Deleted revoked ingest tokens #1, #2." in reopened.stdout
    assert "Ingest is open" in reopened.stderr
    assert cli("token", "list").stdout.startswith("Ingest is open:")


def test_token_delete_keeps_active_tokens(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    assert run_cli("token", "create", "a", cwd=tmp_path, env=env).returncode == 0
    active = run_cli("token", "delete", "1", cwd=tmp_path, env=env)
    assert active.returncode != 0 and "revoke it first" in active.stderr
    missing = run_cli("token", "delete", "7", cwd=tmp_path, env=env)
    assert missing.returncode != 0 and "no ingest token #7" in missing.stderr
    assert (
        "Tokens required: 1 active token." in run_cli("token", "list", cwd=tmp_path, env=env).stdout
    )


async def test_deleted_tokens_reopen_ingest_on_a_running_server(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, ingest_token_refresh_seconds=0.1)
    engine = create_engine(settings)
    try:
        token_id, _ = await ingest_tokens.create_token(engine, "c")
        await ingest_tokens.revoke_token(engine, token_id)
        async with live_server(settings) as base, httpx.AsyncClient(base_url=base) as client:
            closed = await client.post("/api/v1/events", json=[event()])
            assert closed.status_code == 401
            assert await ingest_tokens.delete_revoked(engine) == [token_id]

            async def open_again() -> bool:
                response = await client.post("/api/v1/events", json=[event()])
                return response.status_code == 202

            await eventually(open_again, timeout=10, what="ingest to open again")
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("clean_environ")
def test_first_start_prints_a_generated_admin_password_once(tmp_path: Path) -> None:
    env = {"CELL_MONITOR_DATA_DIR": str(tmp_path / "data")}
    server = ServerProcess(env, admin_password=None)
    try:
        server.wait_ready()
        found = re.search(r"with the password\n\s+(\S+)\n", server.output())
        assert found, server.output()
        password = found.group(1)
        assert "cell-monitor user set-password admin" in server.output()
        headers = instructor_headers(server.url, "admin", password)
        assert httpx.get(f"{server.url}/api/v1/stats", headers=headers).status_code == 200
    finally:
        server.stop()
    assert server.output().count(password) == 1  # on the terminal only, once
    restarted = ServerProcess(env, admin_password=None)
    try:
        restarted.wait_ready()
        assert "created the instructor account" not in restarted.output()
    finally:
        restarted.stop()


async def test_workers_starting_together_create_one_admin(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = settings.model_copy(update={"initial_admin_password": None})
    engines = [create_engine(fresh) for _ in range(4)]
    try:
        await asyncio.gather(*(ensure_first_account(engine, fresh) for engine in engines))
        assert [a.username for a in await users.list_users(engines[0])] == ["admin"]
    finally:
        for engine in engines:
            await engine.dispose()
    assert capsys.readouterr().err.count("created the instructor account 'admin'") == 1


PLACEHOLDER_DB = "postgresql://cellmonitor_user:change-me-postgres-password@127.0.0.1:9/x"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": PLACEHOLDER_DB}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://cellmonitor_user@127.0.0.1:9/x"}, "DATABASE_URL"),
        (
            {"CELL_MONITOR_INITIAL_ADMIN_PASSWORD": "change-me"},
            "CELL_MONITOR_INITIAL_ADMIN_PASSWORD",
        ),
        ({"INFLUXDB_URL": "http://127.0.0.1:9", "INFLUXDB_TOKEN": "changeme"}, "INFLUXDB_TOKEN"),
        ({"CELL_MONITOR_CORS_ORIGINS": "localhost:8888"}, "CELL_MONITOR_CORS_ORIGINS"),
        # No account and no initial password: nobody could ever sign in.
        ({}, "CELL_MONITOR_INITIAL_ADMIN_PASSWORD"),
    ],
)
def test_production_refuses_unsafe_settings(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    full = {
        "CELL_MONITOR_ENVIRONMENT": "production",
        "CELL_MONITOR_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    result = run_cli("serve", "--port", "0", cwd=tmp_path, env=full)
    assert result.returncode != 0, output_of(result)
    assert variable in result.stderr and "Traceback" not in output_of(result)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_production_app_refuses_to_be_built(settings: Settings) -> None:
    unsafe = settings.model_copy(
        update={"environment": "production", "database_url": PLACEHOLDER_DB}
    )
    with pytest.raises(UnsafeConfiguration, match="DATABASE_URL"):
        create_app(unsafe)


@pytest.mark.usefixtures("clean_environ")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_logs_never_contain_secrets(log_format: str, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'data' / 'cell-monitor.sqlite3'}"
    token_run = run_cli("token", "create", "c", cwd=tmp_path, env={"DATABASE_URL": database})
    token = token_run.stdout.strip()
    wrong_password = "Wr0ng-but-close-secret"
    env = {
        "DATABASE_URL": database,
        "CELL_MONITOR_LOG_FORMAT": log_format,
        "CELL_MONITOR_LOG_LEVEL": "DEBUG",
    }
    server = ServerProcess(env).wait_ready()
    try:
        base = server.url
        bad = httpx.post(f"{base}/login", data={"username": "admin", "password": wrong_password})
        assert bad.status_code == 401
        headers = instructor_headers(base)
        cookie = headers["Cookie"].split("=", 1)[1]
        assert httpx.get(f"{base}/api/v1/stats", headers=headers).status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        assert (
            httpx.post(f"{base}/api/v1/events", json=[event()], headers=bearer).status_code == 202
        )
        wrong = {"Authorization": f"Bearer {token}x"}
        assert httpx.post(f"{base}/api/v1/events", json=[event()], headers=wrong).status_code == 403
        httpx.post(f"{base}/logout", headers=headers)
    finally:
        server.stop()
    output = server.output()
    assert "Failed login" in output  # the log lines are there ...
    from tests.support import TEST_ADMIN_PASSWORD

    for secret in (TEST_ADMIN_PASSWORD, wrong_password, cookie, token, token[4:20]):
        assert secret not in output  # ... without any secret


@pytest.mark.usefixtures("clean_environ")
def test_production_starts_when_configured_and_warns_while_ingest_is_open(
    tmp_path: Path,
) -> None:
    env = {"CELL_MONITOR_ENVIRONMENT": "production", "CELL_MONITOR_DATA_DIR": str(tmp_path / "d")}
    server = ServerProcess(env)
    try:
        server.wait_ready()
        headers = instructor_headers(server.url)
        assert httpx.get(f"{server.url}/api/v1/stats", headers=headers).status_code == 200
    finally:
        server.stop()
    assert "No ingest token exists" in server.output()
