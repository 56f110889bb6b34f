"""Long commands are never silent: progress lines off a terminal, a bar on one, a summary."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from tests.integration.test_cli import output_of, run_cli
from tests.support import event, is_config_variable, live_server, query_sql

pytestmark = pytest.mark.slow
# Every progress update is a line: the commands run for well under the default 10 s.
EVERY_UPDATE = {"CELL_MONITOR_PROGRESS_SECONDS": "0"}


async def old_and_new_events(base: str) -> None:
    now = datetime.now(timezone.utc)
    body = [
        event(eventTime=(now - timedelta(days=days)).isoformat(), emailAddress=f"s{n}@x.org")
        for n, days in enumerate([400, 300, 200, 1])
    ]
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.post("/api/v1/events", json=body)).json()["accepted"] == 4


async def cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, *args, cwd=tmp_path, env={**EVERY_UPDATE, **env})


async def test_prune_writes_progress_lines_and_a_summary(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    async with live_server(settings) as base:
        await old_and_new_events(base)
    done = await cli(tmp_path, {"DATABASE_URL": database_url}, "db", "prune", "--older-than", "90d")
    assert done.returncode == 0, output_of(done)
    lines = done.stderr.splitlines()
    assert lines[0].startswith("db prune: 0 rows removed")
    assert any(re.match(r"db prune: [1-9][\d,]* rows removed, ", line) for line in lines[1:-1])
    assert re.fullmatch(
        r"db prune: removed 3 events, 3 cell executions, 3 sessions, 0 instructor actions, "
        r"0 help requests, 0 messages older than \d{4}-\d\d-\d\d"
        r"( \(\d+ partitions dropped whole\))? \[\d+\.\d s\]",
        lines[-1],
    ), lines[-1]
    assert "events: 3" in done.stdout  # the detailed report stays on stdout
    assert await asyncio.to_thread(query_sql, database_url, "SELECT count(*) FROM events") == [(1,)]


async def test_student_export_and_delete_report_progress(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    async with live_server(settings) as base:
        await old_and_new_events(base)
    env = {"DATABASE_URL": database_url}
    exported = await cli(tmp_path, env, "student", "export", "s3@x.org")
    assert exported.returncode == 0, output_of(exported)
    assert json.loads(exported.stdout)["students"][0]["student_key"] == "s3@x.org"
    lines = exported.stderr.splitlines()
    # Every table of the export counted, the last one finishing at 100 %.
    assert re.search(r"student export: (\d+)/\1 \(100%\) tables, credentials \[", exported.stderr)
    assert lines[-1].startswith("student export: wrote stdout: 1 students, ")

    deleted = await cli(tmp_path, env, "student", "delete", "s3@x.org", "--yes")
    assert deleted.returncode == 0, output_of(deleted)
    assert re.search(r"student delete: (\d+)/\1 \(100%\) steps, live dashboards \[", deleted.stderr)
    assert re.match(
        r"student delete: erased 1 student record\(s\), \d+ database rows \[",
        deleted.stderr.splitlines()[-1],
    )


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_db_upgrade_shows_the_partitions_it_prepares(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": empty_database_url, "CELL_MONITOR_PARTITION_MONTHS_AHEAD": "2"}
    upgraded = await cli(tmp_path, env, "db", "upgrade")
    assert upgraded.returncode == 0, output_of(upgraded)
    assert "db upgrade: monthly partitions: 3/3 (100%) months, " in upgraded.stderr
    summary = upgraded.stdout.strip()
    assert summary.count("\n") == 0 and "is at schema revision" in summary


async def test_simulate_without_a_terminal_prints_progress_lines(
    settings: Settings, tmp_path: Path
) -> None:
    async with live_server(settings) as base:
        env = {k: v for k, v in os.environ.items() if not is_config_variable(k)}
        env.update(EVERY_UPDATE)  # a line per tick (2 per second)
        command = [sys.executable, "-m", "cell_monitor.cli", "simulate", "--server", base]
        result = await asyncio.to_thread(
            subprocess.run,
            [*command, "--students", "3", "--speed", "300", "--seed", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, output_of(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("simulate")]
    assert len(lines) >= 2, result.stderr
    assert re.match(r"simulate \(% of the notebook\): \d+/100 \(\d+%\)", lines[-1])
    assert "students:" in result.stdout  # the one-line summary


def run_on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> str:
    """Run the CLI with stderr on a pseudo-terminal; what the terminal showed."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "cell_monitor.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
    )
    os.close(secondary)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the terminal closed: the command ended
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        assert process.wait(timeout=10) == 0, shown.decode(errors="replace")
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    return shown.decode(errors="replace")


async def test_on_a_terminal_a_bar_then_the_summary(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    async with live_server(settings) as base:
        await old_and_new_events(base)
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not is_config_variable(k)}
    env.update({"DATABASE_URL": database_url, "XDG_DATA_HOME": str(tmp_path), "TERM": "xterm"})
    shown = await asyncio.to_thread(run_on_a_terminal, ["db", "prune", "--older-than", "90d"], env)
    assert "━" in shown  # rich's bar
    assert "db prune: removed 3 events" in shown
    assert "db prune: 0 rows removed [" not in shown  # no plain lines on a terminal
