"""The server log has no line per HTTP request by default (DEBUG shows them)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cell_monitor.logs import (
    PER_REQUEST_LOGGERS,
    JsonFormatter,
    TextFormatter,
    configure_logging,
)
from tests.support import live_server, make_settings


@pytest.fixture
def restore_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Undo configure_logging before capsys closes the stream its handler writes to.

    Only its own handler goes: pytest adds and removes capture handlers of its own
    around each phase, and a saved copy of the list would bring stale ones back.
    """
    root = logging.getLogger()
    level = root.level
    levels = {name: logging.getLogger(name).level for name in (*PER_REQUEST_LOGGERS, "aiosqlite")}
    yield
    for handler in list(root.handlers):
        if isinstance(handler.formatter, TextFormatter | JsonFormatter):
            root.removeHandler(handler)
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(("level", "per_request_lines"), [("INFO", False), ("DEBUG", True)])
async def test_requests_of_the_servers_own_clients_are_not_logged_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], level: str, per_request_lines: bool
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, log_level=level)
    configure_logging(settings)
    # aiosqlite's worker thread logs its last DEBUG line after the test has ended.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    async with live_server(settings) as base:
        # The InfluxDB sink and the demo's class use httpx, as this client does.
        async with httpx.AsyncClient(headers={"User-Agent": "cell-monitor"}) as client:
            assert (await client.get(f"{base}/health")).status_code == 200
        logging.getLogger("cell_monitor").warning("marker line")
    err = capsys.readouterr().err
    assert "marker line" in err  # the handler does write to the captured stream
    assert ("HTTP Request: GET" in err) is per_request_lines
    assert ('"GET /health HTTP/1.1" 200' in err) is per_request_lines
