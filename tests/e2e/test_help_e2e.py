"""End to end: a student asks for help in JupyterLab, a TA claims it in the dashboard,
the student sees who is coming, in every browser and after a reload.

Real software throughout: `cell-monitor serve` on a SQLite file, `jupyter lab` with
the extension as built for the wheel and a per-student credential, the dashboard,
and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.accounts import ingest_tokens
from cell_monitor.accounts.ingest_tokens import RosterEntry
from cell_monitor.accounts.users import Role, create_user
from cell_monitor.storage.engine import create_engine
from tests.dashboard_support import open_dashboard
from tests.e2e.lab import JupyterLabProcess, notebook, write_json
from tests.e2e.test_lab_e2e import SETTINGS, open_notebook
from tests.support import ServerProcess, eventually_sync, instructor_headers, make_settings

pytestmark = pytest.mark.e2e

TA, TA_PASSWORD = "ada-ta", "a long enough TA password"
BUTTON = ".jp-NotebookPanel .cm-HelpButton"


def prepare(server: ServerProcess) -> str:
    """A TA account and ada's credential, in the server's database; the credential."""
    settings = make_settings(server.env["DATABASE_URL"], Path(server.env["CELL_MONITOR_DATA_DIR"]))

    async def run() -> str:
        engine = create_engine(settings)
        try:
            await create_user(engine, TA, TA_PASSWORD, Role.ta)
            [(_, _, credential)] = await ingest_tokens.create_student_credentials(
                engine, [RosterEntry("ada@example.org", "Ada", "A")], "python-101"
            )
        finally:
            await engine.dispose()
        return credential

    # In a thread: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def relay_ok(lab: JupyterLabProcess) -> bool:
    """The Jupyter server's relay reaches the class server with the credential."""
    answer = lab.api("GET", "cell-monitor/inbox", params={"wait": "0"})
    return answer.status_code == 200 and answer.json()["state"] == "ok"


def test_a_student_sees_the_ta_who_claimed_their_request(
    browser: Any,
    class_server: Callable[..., ServerProcess],
    jupyter_lab: Callable[..., JupyterLabProcess],
) -> None:
    server = class_server()
    credential = prepare(server)
    lab = jupyter_lab(
        {"CELL_MONITOR_SERVER_URL": server.url, "CELL_MONITOR_INGEST_TOKEN": credential},
        SETTINGS,
    )
    write_json(lab.root / "lesson.ipynb", notebook("x = 1"))
    eventually_sync(
        lambda: relay_ok(lab),
        30,
        "the inbox relay to reach the class server",
        interval=0.25,
        context=lab.log,
    )

    student = open_notebook(browser, lab, "lesson.ipynb")
    button = student.locator(BUTTON)
    button.filter(has_text="Ask for help").wait_for(timeout=30_000)
    button.click()
    button.filter(has_text="Help requested — 1st in line").wait_for(timeout=30_000)
    assert button.get_attribute("aria-pressed") == "true"

    # The TA's dashboard: the request is in the list; "On my way".
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    name, _, value = instructor_headers(server.url, TA, TA_PASSWORD)["Cookie"].partition("=")
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    dashboard = open_dashboard(context.new_page(), server.url)
    item = dashboard.locator("#help-list .attention-item", has_text="Ada")
    item.locator(".attention-claimed", has_text="#1 in line").wait_for(timeout=30_000)
    item.locator(".attention-claim").click()
    item.locator(".attention-claimed", has_text=f"{TA} (TA) on the way").wait_for(timeout=30_000)
    assert item.locator(".attention-claim").is_hidden()  # mine: nothing to claim

    # The student sees who is coming, within seconds, without a reload...
    button.filter(has_text=f"{TA} (TA) is on the way").wait_for(timeout=10_000)
    # ...after a reload, and in a second browser of theirs.
    student.reload()
    student.locator(BUTTON, has_text=f"{TA} (TA) is on the way").wait_for(timeout=60_000)
    other = open_notebook(browser, lab, "lesson.ipynb")
    other.locator(BUTTON, has_text=f"{TA} (TA) is on the way").wait_for(timeout=60_000)

    # Done: the student ends it; the dashboard's list empties, the button asks again.
    other.locator(BUTTON).click()
    button.filter(has_text="Ask for help").wait_for(timeout=30_000)
    dashboard.locator("#help-empty").wait_for(state="visible", timeout=30_000)
    queue = httpx.get(
        f"{server.url}/api/v1/help/queue",
        headers=instructor_headers(server.url, TA, TA_PASSWORD),
        timeout=10,
    ).json()
    assert queue["requests"] == []
    context.close()
    student.context.close()
    other.context.close()
