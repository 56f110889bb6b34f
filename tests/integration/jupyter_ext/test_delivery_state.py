"""The server extension names why events do not get through: token, URL or outage."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.accounts import ingest_tokens
from cell_monitor.storage.engine import create_engine
from tests.integration.jupyter_ext.test_forwarding import eventually, post, status
from tests.support import (
    answers,
    event,
    free_port,
    live_server,
    make_settings,
    stop_process,
    wait_started,
)

FORWARDER_LOG = "cell_monitor.jupyter_ext.forwarder"


async def state_becomes(jp_fetch: Any, state: str, timeout: float = 5.0) -> dict[str, Any]:
    """The status once its state is `state`; fails after `timeout` seconds."""

    async def check() -> dict[str, Any] | None:
        current = await status(jp_fetch)
        return current if current["state"] == state else None

    return dict(await eventually(check, timeout))


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == FORWARDER_LOG and record.levelno >= logging.INFO
    ]


@pytest.mark.parametrize(("sent_token", "code"), [("", "401"), ("wrong-token", "403")])
async def test_a_refused_token_is_reported_within_seconds_and_logged_once(
    jp_fetch: Any,
    extension: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    sent_token: str,
    code: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger=FORWARDER_LOG)
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"
    settings = make_settings(url, tmp_path / "class", ingest_token_refresh_seconds=0.1)
    async with live_server(settings) as base:
        engine = create_engine(settings)
        try:
            await ingest_tokens.create_token(engine, "python-101")
        finally:
            await engine.dispose()
        await eventually(lambda: _requires_tokens(base))  # the server's token cache reloads
        extension.server_url = base
        extension.ingest_token = sent_token
        await post(jp_fetch, [event()])
        refused = await state_becomes(jp_fetch, "refused")
        assert code in refused["lastError"] and "CELL_MONITOR_INGEST_TOKEN" in refused["lastError"]
        assert refused["queueLength"] == 1
        # Retries go on (the token may be fixed any minute) without a line each.
        await eventually(lambda: _at_least(extension.forwarder, 4))
        lines = failure_lines(caplog)
    assert len(lines) == 1, lines
    assert "(refused)" in lines[0] and code in lines[0]


async def _requires_tokens(base: str) -> bool:
    async with httpx.AsyncClient(base_url=base) as client:
        return (await client.post("/api/v1/events", json=[])).status_code == 401


async def _at_least(forwarder: Any, failures: int) -> bool:
    return bool(forwarder.failures >= failures)


@pytest.fixture
def plain_web_server(tmp_path: Path) -> Iterator[str]:
    """Python's own http.server: a web server, but not a cell-monitor one."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_started(process, lambda: answers(base, timeout=1), "http.server", timeout=15)
        yield base
    finally:
        stop_process(process)


async def test_a_server_that_is_not_cell_monitor_is_a_wrong_url(
    jp_fetch: Any, extension: Any, plain_web_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=FORWARDER_LOG)
    extension.server_url = plain_web_server
    await post(jp_fetch, [event()])
    wrong = await state_becomes(jp_fetch, "wrong_url")
    assert "not a cell-monitor server" in wrong["lastError"]
    assert "CELL_MONITOR_SERVER_URL" in wrong["lastError"]
    assert wrong["queueLength"] == 1
    assert [line for line in failure_lines(caplog) if "(wrong_url)" in line]


async def test_a_closed_port_is_unreachable_then_recovers(
    jp_fetch: Any, extension: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=FORWARDER_LOG)
    port = free_port()
    extension.server_url = f"http://127.0.0.1:{port}"
    await post(jp_fetch, [event()])
    down = await state_becomes(jp_fetch, "unreachable")
    assert "unreachable" in down["lastError"] and down["unreachableSeconds"] is not None
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"
    async with live_server(make_settings(url, tmp_path / "class"), port=port):
        up = await state_becomes(jp_fetch, "ok", timeout=15)
    assert up["lastError"] is None and up["queueLength"] == 0
    lines = failure_lines(caplog)
    assert len(lines) == 2, lines
    assert "(unreachable)" in lines[0] and "again" in lines[1]


@pytest.mark.parametrize("monitor_config", [{"max_queue_events": 2}])
async def test_a_full_queue_is_reported(jp_fetch: Any, extension: Any) -> None:
    extension.server_url = f"http://127.0.0.1:{free_port()}"
    await post(jp_fetch, [event(), event()])
    current = await status(jp_fetch)
    assert current["queueFull"] is True
