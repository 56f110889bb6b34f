"""Student data at rest and connections in transit, on real files, processes and sockets.

SQLite files private to the owner; `student delete` leaves no copy in the raw
files (WAL included); DEBUG logs carry no SQL parameters; half-sent requests
and idle connections are closed; X-Forwarded-For only counts from trusted proxies.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_cli import output_of, run_cli
from tests.support import (
    TEST_ADMIN_PASSWORD,
    ServerProcess,
    event,
    instructor_headers,
    is_config_variable,
    live_server,
    make_settings,
    query_sql,
)

URL = "/api/v1/events"
ZELDA = "zelda.unique-7c1f@example.org"
MARKER = "zelda_private_code_91d3"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _sqlite_files(database: Path) -> list[Path]:
    return [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]


def _raw_contents(database: Path) -> tuple[bytes, int]:
    """Every byte of the database, WAL and SHM files; the WAL's size (0 when absent)."""
    wal = Path(f"{database}-wal")
    raw = b"".join(p.read_bytes() for p in _sqlite_files(database))
    return raw, wal.stat().st_size if wal.exists() else 0


async def test_sqlite_database_wal_and_folder_are_private(tmp_path: Path) -> None:
    database = tmp_path / "fresh" / "data" / "cell-monitor.sqlite3"
    settings = make_settings(f"sqlite:///{database}", tmp_path)
    async with live_server(settings) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.post(URL, json=[event()])).status_code == 202
        files = _sqlite_files(database)
        assert {p.name for p in files} == {
            "cell-monitor.sqlite3",
            "cell-monitor.sqlite3-wal",
            "cell-monitor.sqlite3-shm",
        }
        for path in files:
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
        assert _mode(database.parent) == 0o700


async def test_student_delete_leaves_no_copy_in_the_raw_sqlite_files(tmp_path: Path) -> None:
    database = tmp_path / "db" / "cell-monitor.sqlite3"
    url = f"sqlite:///{database}"
    settings = make_settings(url, tmp_path)
    async with live_server(settings) as base, httpx.AsyncClient(base_url=base) as http:
        zelda = [event(emailAddress=ZELDA, userName="Zelda", code=MARKER) for _ in range(30)]
        bob = [event(emailAddress="bob@example.org") for _ in range(3)]
        assert (await http.post(URL, json=zelda + bob)).json()["accepted"] == 33
        raw, _ = _raw_contents(database)
        assert ZELDA.encode() in raw and MARKER.encode() in raw  # the check can see them

        # While the server runs and holds its connections, as an operator would.
        result = await asyncio.to_thread(
            run_cli, "student", "delete", ZELDA, "--yes", cwd=tmp_path, env={"DATABASE_URL": url}
        )
        assert result.returncode == 0, output_of(result)

        raw, wal_size = _raw_contents(database)
        assert ZELDA.encode() not in raw and MARKER.encode() not in raw
        assert b"bob@example.org" in raw  # the others stay
        assert wal_size == 0
        # The server keeps working on the same files.
        assert (await http.post(URL, json=[event()])).status_code == 202


def test_debug_logs_carry_no_sql_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if is_config_variable(name):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'db' / 'cell-monitor.sqlite3'}"
    server = ServerProcess({"DATABASE_URL": url, "CELL_MONITOR_LOG_LEVEL": "DEBUG"})
    try:
        server.wait_ready()
        response = httpx.post(server.url + URL, json=[event(code=MARKER)], timeout=30)
        assert response.status_code == 202
        instructor_headers(server.url)  # a login reads the password hash
        # A refused sign-in and a read of the events: more SQL with parameters.
        httpx.post(server.url + "/login", json={"username": "admin", "password": "wrong-pw-1"})
        (password_hash,) = query_sql(url, "SELECT password_hash FROM users")[0]
        log = server.output()
        assert " DEBUG " in log  # DEBUG is on
        for secret in (MARKER, str(password_hash), TEST_ADMIN_PASSWORD, "wrong-pw-1"):
            assert secret not in log, secret
    finally:
        server.stop()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes `sock` (EOF) within `seconds`; what it sent is ignored."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if sock.recv(65536) == b"":
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return False


async def test_slow_and_idle_connections_are_closed(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        request_timeout_seconds=1.0,
        keep_alive_seconds=1,
    )
    async with live_server(settings) as base:
        host, port = base.removeprefix("http://").split(":")
        address = (host, int(port))
        half_headers = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: "
        half_body = (
            b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n[{"
        )
        complete = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"

        def probe(first_bytes: bytes | None) -> bool:
            with socket.create_connection(address) as sock:
                if first_bytes:
                    sock.sendall(first_bytes)
                # Bound 1 s; generous slack for a loaded machine, far below "never".
                return _closed_within(sock, 10)

        for what, data in (
            ("nothing sent", None),
            ("half the headers", half_headers),
            ("headers, half the body", half_body),
            ("an answered request, then idle", complete),
        ):
            assert await asyncio.to_thread(probe, data), f"still open after {what}"


async def _failed_logins(base: str, forwarded_for: list[str]) -> list[int]:
    codes = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for n, address in enumerate(forwarded_for):
            response = await http.post(
                "/login",
                json={"username": f"nobody{n}", "password": "wrong-password"},
                headers={"X-Forwarded-For": address},
            )
            codes.append(response.status_code)
    return codes


@pytest.mark.parametrize("trusted", [[], ["127.0.0.1"]], ids=["untrusted", "trusted"])
async def test_forwarded_for_counts_only_from_trusted_proxies(
    tmp_path: Path, trusted: list[str]
) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        trusted_proxies=trusted,
        login_attempts_per_ip=3,
    )
    addresses = [f"198.51.100.{n}" for n in range(1, 7)]
    async with live_server(settings) as base:
        codes = await _failed_logins(base, addresses)
    if trusted:
        # Each client behind the proxy has its own budget.
        assert codes == [401] * 6
    else:
        # Forged headers change nothing: one client (the peer) with one budget.
        assert codes[:3] == [401] * 3 and codes[3:] == [429] * 3
