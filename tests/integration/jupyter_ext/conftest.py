"""pytest-jupyter's server fixtures (jp_serverapp, jp_fetch, ...) for this folder only.

pytest-jupyter runs coroutine tests in a loop of its own; the rest of the
suite runs them with pytest-asyncio. Here its fixtures are imported without
its collection hooks, and its loop *is* pytest-asyncio's loop, so a Jupyter
server, a live class server and the test all share one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.jupyter_server import (
    pytest_pycollect_makeitem,
    pytest_pyfunc_call,
)
from traitlets.config import Config

from tests.support import free_port, live_server, make_settings

del pytest_pycollect_makeitem, pytest_pyfunc_call  # keep pytest-asyncio in charge


@pytest.fixture
async def jp_asyncio_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@pytest.fixture
def monitor_config() -> dict[str, Any]:
    """CellMonitorExtension settings of the test; tests add server_url etc."""
    return {}


@pytest.fixture
def jp_server_config(monitor_config: dict[str, Any], tmp_path: Path) -> Config:
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"cell_monitor": True}},
            "CellMonitorExtension": {
                "queue_path": str(tmp_path / "queue" / "queue.sqlite3"),
                "retry_initial_seconds": 0.05,
                "retry_max_seconds": 0.2,
                "hub_user": "",
                "user_id": "os-user",
                **monitor_config,
            },
        }
    )


@pytest.fixture
def extension(jp_serverapp: Any) -> Any:
    """The running CellMonitorExtension of jp_serverapp."""
    return jp_serverapp.web_app.settings["cell_monitor"]


@pytest.fixture
async def class_server(tmp_path: Path) -> AsyncIterator[str]:
    """A real cell-monitor server on a fresh SQLite file; yields its URL."""
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"
    async with live_server(make_settings(url, tmp_path / "class")) as base_url:
        yield base_url


@pytest.fixture
def class_server_factory(tmp_path: Path) -> Callable[..., Any]:
    """live_server on a chosen port and a fixed database, to stop and start it."""
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"

    def serve(port: int) -> Any:
        return live_server(make_settings(url, tmp_path / "class"), port=port)

    return serve


@pytest.fixture
def unused_port() -> int:
    return free_port()
