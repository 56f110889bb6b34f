"""Test support for InfluxDB: a real server (shared, or private to a test), queries."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support import answers, free_port, stop_process, wait_started

INFLUX_ENV = "CELL_MONITOR_TEST_INFLUXDB_URL"


def influx_url() -> str | None:
    return os.environ.get(INFLUX_ENV) or None


def new_database_name() -> str:
    return f"cm_test_{uuid.uuid4().hex[:12]}"


def query(url: str, statement: str, database: str | None = None) -> list[dict[str, Any]]:
    """Run InfluxQL (1.x /query, epoch ns); the series of the first statement."""
    params = {"epoch": "ns", **({"db": database} if database else {})}
    response = httpx.post(f"{url}/query", params=params, data={"q": statement}, timeout=10)
    response.raise_for_status()
    result = response.json()["results"][0]
    if "error" in result:
        raise RuntimeError(result["error"])
    return list(result.get("series") or [])


def rows(url: str, database: str, statement: str) -> list[dict[str, Any]]:
    """The points a SELECT returns, as dicts (empty when the database is missing)."""
    try:
        series = query(url, statement, database)
    except RuntimeError as exc:
        if "database not found" in str(exc):
            return []
        raise
    found = []
    for one in series:
        for values in one["values"]:
            found.append({**one.get("tags", {}), **dict(zip(one["columns"], values, strict=True))})
    return found


def write(url: str, database: str, lines: str) -> httpx.Response:
    return httpx.post(
        f"{url}/write", params={"db": database, "precision": "ns"}, content=lines, timeout=10
    )


def drop_database(url: str, database: str) -> None:
    query(url, f'DROP DATABASE "{database}"')


class InfluxProcess:
    """A private influxd (1.x) on its own port and directories, to stop and start."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        config = f"""
reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = false
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""
        (root / "influxdb.conf").write_text(config)

    @staticmethod
    def available() -> bool:
        return shutil.which("influxd") is not None

    def start(self, timeout: float = 30) -> InfluxProcess:
        log = (self.root / "influxd.log").open("ab")
        self.process = subprocess.Popen(
            ["influxd", "-config", str(self.root / "influxdb.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        ready = lambda: answers(f"{self.url}/ping", status=204, timeout=1)  # noqa: E731
        wait_started(self.process, ready, "influxd", timeout, self._log)
        return self

    def _log(self) -> str:
        return (self.root / "influxd.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None
