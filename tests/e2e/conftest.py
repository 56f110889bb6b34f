"""Fixtures of the browser tier: a real class server, a real JupyterLab, real Chromium."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.lab import LABEXTENSION, JupyterLabProcess
from tests.support import ServerProcess, in_ci

CHROMIUM = Path("/usr/bin/chromium")
# A JupyterLab start, a build check and a browser session take longer than the
# default per-test timeout of pyproject.toml allows on a slow machine.
E2E_TIMEOUT_SECONDS = 600
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT_SECONDS))
            # Under CI a missing browser fails the tests (launching it fails).
            if not CHROMIUM.exists() and not in_ci():
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"{CHROMIUM} not found (apt-get install chromium; .ci/run does)"
                    )
                )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps an event loop running in this
    thread while it is open, which the asyncio tests of other modules cannot share.
    """
    if not (LABEXTENSION / "package.json").exists():
        pytest.fail("the labextension is not built: run `npm run build:prod` (or pip install -e .)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def class_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start (and restart) `cell-monitor serve` on one SQLite file and one port."""
    data_dir = tmp_path / "class-server"
    env = {
        "CELL_MONITOR_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'cell-monitor.sqlite3'}",
    }
    started: list[ServerProcess] = []

    def start(port: int | None = None) -> ServerProcess:
        server = ServerProcess(env, port=port).wait_ready()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[Callable[..., JupyterLabProcess]]:
    labs: list[JupyterLabProcess] = []

    def start(env: dict[str, str], settings: dict[str, Any]) -> JupyterLabProcess:
        lab = JupyterLabProcess(tmp_path / "lab", env, settings)
        labs.append(lab)
        return lab.start()

    yield start
    for lab in labs:
        lab.stop()


@pytest.fixture
def page(browser: Any, server: ServerProcess) -> Iterator[Any]:
    """A signed-in dashboard tab on the module's `server`; any error in the page fails the test."""
    from tests.dashboard_support import dashboard_context

    context = dashboard_context(browser, server.url, viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"errors in the page: {errors}"
