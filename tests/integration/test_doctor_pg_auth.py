"""A wrong PostgreSQL password, for real: a private cluster that demands scram-sha-256.

The shared test server trusts 127.0.0.1, so no password can be wrong there; this
test starts its own PostgreSQL (initdb + postgres, as the postgres OS user when
run as root) on a free port with password authentication over TCP.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cell_monitor.doctor.findings import Urgency
from tests.integration.test_doctor import diagnose, finding
from tests.support import free_port, make_settings, missing_service, stop_process, wait_started

PASSWORD = "right-horse-battery"


def _binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if isinstance(found, list):
        return found[-1] if found else None
    return found


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb refuses root")
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture
def scram_postgres() -> Iterator[int]:
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if not initdb or not postgres:
        missing_service("PostgreSQL server binaries are not installed")
    # Not under pytest's tmp dir: that one is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="cell-monitor-pg-scram-"))
    try:
        yield from _serve(root, initdb, postgres)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _serve(root: Path, initdb: str, postgres: str) -> Iterator[int]:
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, pwfile = root / "data", root / "pw"
    pwfile.write_text(PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres")
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                      "--auth-host=scram-sha-256", "--auth-local=trust"]),
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        _as_postgres([postgres, "-D", str(data), "-p", str(port), "-k", str(root),
                      "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ready = [_binary("pg_isready") or "pg_isready", "-h", "127.0.0.1", "-p", str(port)]
    try:
        wait_started(
            process,
            lambda: subprocess.run(ready, capture_output=True).returncode == 0,
            "the private PostgreSQL",
        )
        yield port
    finally:
        stop_process(process)


@pytest.mark.postgres
async def test_wrong_password_is_an_authentication_failure(
    scram_postgres: int, tmp_path: Path
) -> None:
    wrong = f"postgresql://postgres:not-the-password@127.0.0.1:{scram_postgres}/postgres"
    report = await diagnose(make_settings(wrong, tmp_path), only=("database",))
    found = finding(report, "database.auth_failed")
    assert found.urgency == Urgency.high
    assert "password authentication failed" in found.detail
    assert "not-the-password" not in found.detail + found.fix  # never print the secret
    assert "POSTGRES_PASSWORD" in found.fix

    right = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{scram_postgres}/postgres"
    report = await diagnose(make_settings(right, tmp_path), only=("database",))
    assert [f.id for f in report.findings] == ["database.schema_missing"]
