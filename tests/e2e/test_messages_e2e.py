"""End to end: a hint from the real dashboard reaches a real JupyterLab, and back.

`cell-monitor serve` on a SQLite file; ada's `jupyter lab` reports with her
per-student credential (so the class server knows whom the inbox is for); the
instructor's dashboard and ada's JupyterLab in Chromium. The instructor sends a
hint with a snippet to the students of a hotspot; ada sees the notification,
inserts the snippet as a new cell, and the dashboard shows the receipt. Then
her JupyterLab is stopped, a second message is sent, and after the restart
she is shown the second message once and the first one never again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from cell_monitor.accounts.ingest_tokens import RosterEntry, create_student_credentials
from cell_monitor.config import Settings
from cell_monitor.storage.engine import create_engine
from tests.dashboard_support import dashboard_context, open_dashboard, sync_api_client
from tests.e2e.lab import (
    JupyterLabProcess,
    notebook,
    wait_kernel_ready,
    watch_kernels,
    write_json,
)
from tests.e2e.test_lab_e2e import SETTINGS, open_notebook, run_cell, toasts_shown
from tests.support import ServerProcess, event, eventually_sync

pytestmark = pytest.mark.e2e

SNIPPET = "df = pd.read_csv('data.csv')"
STUDENTS = ("ada", "bob", "cy")


def credentials(server: ServerProcess) -> dict[str, str]:
    async def create() -> list[tuple[int, str, str]]:
        settings = Settings(_env_file=None, database_url=server.env["DATABASE_URL"])  # type: ignore[call-arg]
        engine = create_engine(settings)
        try:
            roster = [RosterEntry(f"{s}@example.org", s.title(), "A") for s in STUDENTS]
            return await create_student_credentials(engine, roster, "python-101")
        finally:
            await engine.dispose()

    # Playwright's sync API runs an event loop in this thread: the store is written from another.
    with ThreadPoolExecutor(1) as pool:
        created = pool.submit(asyncio.run, create()).result()
    return {key.split("@")[0]: secret for _, key, secret in created}


def failing(secret: str, client: Any) -> None:
    failed = event(
        cellIndex=0,
        cellId="cell-0",
        code="df.head()",
        hasError=True,
        errorName="NameError",
        errorMessage="name 'df' is not defined",
    )
    response = client.post(
        "/api/v1/events", json=[failed], headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 202 and response.json()["accepted"] == 1, response.text


def send_from_dashboard(board: Any, body: str, snippet: str | None = None) -> None:
    board.locator("#compose-dialog[open]").wait_for()
    board.fill("#compose-body", body)
    if snippet is not None:
        board.fill("#compose-snippet", snippet)
    board.click("#compose-send")
    board.locator("#compose-dialog[open]").wait_for(state="detached")


def receipts_line(board: Any) -> str:
    return str(board.locator("#messages-list .message-receipts").first.inner_text())


def ada_lab(
    class_server: Callable[..., ServerProcess],
    jupyter_lab: Callable[..., JupyterLabProcess],
    code: str,
) -> tuple[ServerProcess, JupyterLabProcess, dict[str, str]]:
    """A class server, ada's JupyterLab reporting to it (lesson1.ipynb, one cell), credentials."""
    server = class_server()
    secrets = credentials(server)
    env = {"CELL_MONITOR_SERVER_URL": server.url, "CELL_MONITOR_INGEST_TOKEN": secrets["ada"]}
    lab = jupyter_lab(env, SETTINGS)
    write_json(lab.root / "lesson1.ipynb", notebook(code))
    return server, lab, secrets


def test_a_hint_to_a_hotspot_is_inserted_and_shown_once_across_a_restart(
    browser: Any,
    class_server: Callable[..., ServerProcess],
    jupyter_lab: Callable[..., JupyterLabProcess],
) -> None:
    server, lab, secrets = ada_lab(class_server, jupyter_lab, "df.head()")
    page = open_notebook(browser, lab, "lesson1.ipynb")
    run_cell(page, 0, 1)  # ada's own NameError, reported by her JupyterLab
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for student in ("bob", "cy"):
            failing(secrets[student], client)

    context = dashboard_context(browser, server.url, viewport={"width": 1600, "height": 1000})
    board = open_dashboard(context.new_page(), server.url)
    board.keyboard.press("3")
    hotspot = board.locator("#hotspots .hotspot", has_text="NameError").first

    def three_students() -> bool:
        board.keyboard.press("3")
        return hotspot.locator(".hotspot-count").inner_text(timeout=5_000) == "3"

    eventually_sync(three_students, timeout=30, what="ada's error in the hotspot", context=lab.log)
    hotspot.locator("summary").click()
    hotspot.get_by_role("button", name="Send a hint to these 3 students").click()
    send_from_dashboard(board, "Run the **import** cell first.", SNIPPET)

    # Ada: a notification, once; the panel shows the hint with its snippet.
    toast = page.locator(".jp-Notification-Toast-info", has_text="Run the import cell first.")
    toast.wait_for(timeout=30_000)
    toast.get_by_role("button", name="Show the hint").click()
    message = page.locator(".cm-MessagesPanel .cm-Message").first
    message.wait_for()
    assert message.locator(".cm-Message-body strong").inner_text() == "import"
    cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
    assert cells.count() == 1
    page.locator(".jp-NotebookPanel .jp-CodeCell").first.locator(".jp-InputArea-editor").click()
    message.get_by_role("button", name="Insert as a new cell below").click()
    eventually_sync(lambda: cells.count() == 2, timeout=10, what="the inserted cell")
    assert "df.head()" in cells.nth(0).locator(".jp-InputArea-editor").inner_text()
    assert SNIPPET in cells.nth(1).locator(".jp-InputArea-editor").inner_text()

    # The instructor sees the receipt, live.
    board.keyboard.press("7")
    board.locator("#messages-list .message").first.wait_for()
    eventually_sync(
        lambda: receipts_line(board).startswith("seen by 1 of 3 · inserted by 1"),
        timeout=30,
        what="the receipt on the dashboard",
        context=lambda: receipts_line(board) + "\n" + lab.log(),
    )
    assert toasts_shown(page, "Run the import cell first.") == 1
    page.context.close()

    # Offline: her JupyterLab stops; a second message waits on the class server.
    lab.stop()
    board.click("#messages-class")
    send_from_dashboard(board, "Break: back at 10:30.")
    lab.start()
    page = open_notebook(browser, lab, "lesson1.ipynb")
    second = page.locator(".jp-Notification-Toast-info", has_text="Break: back at 10:30.")
    second.wait_for(timeout=30_000)
    page.locator(".jp-SideBar [title^='Messages from your instructor']").first.click()
    history = page.locator(".cm-MessagesPanel .cm-Message")
    eventually_sync(lambda: history.count() == 2, timeout=20, what="both messages in the panel")
    assert toasts_shown(page, "Run the import cell first.") == 0
    assert toasts_shown(page, "Break: back at 10:30.") == 1
    eventually_sync(
        lambda: receipts_line(board).startswith("seen by 1 of"),
        timeout=30,
        what="the second message seen",
    )
    context.close()


def test_a_message_pops_up_once_across_tabs_and_browsers(
    browser: Any,
    class_server: Callable[..., ServerProcess],
    jupyter_lab: Callable[..., JupyterLabProcess],
) -> None:
    server, lab, _ = ada_lab(class_server, jupyter_lab, "x = 1")
    first = open_notebook(browser, lab, "lesson1.ipynb")
    second_tab = first.context.new_page()  # another tab of the same browser
    watch_kernels(second_tab)
    second_tab.goto(lab.open_url("lesson1.ipynb"))
    wait_kernel_ready(second_tab)
    other_browser = open_notebook(browser, lab, "lesson1.ipynb")  # its own localStorage
    pages = [first, second_tab, other_browser]

    with sync_api_client(server.url) as client:

        def sent() -> bool:
            # The class audience knows ada once her JupyterLab has reported.
            message = {
                "requestId": str(uuid.uuid4()),
                "body": "Pair up for **exercise 3**.",
                "audience": {"kind": "class"},
            }
            return client.post("/api/v1/messages", json=message).status_code == 201

        eventually_sync(sent, timeout=30, what="a message to the class", context=lab.log)

        def listed_everywhere() -> bool:
            return all(p.locator(".cm-MessagesPanel .cm-Message").count() == 1 for p in pages)

        eventually_sync(listed_everywhere, timeout=30, what="the message in every tab's panel")

        def seen() -> bool:
            items = client.get("/api/v1/messages").json()["items"]
            return bool(items) and items[0]["receipts"]["seen"] == 1

        eventually_sync(seen, timeout=30, what="the message seen", context=lab.log)

    # Every tab has had the Jupyter server's answer: the one that announced it noted
    # it as seen, the others were told it was announced elsewhere.
    def settled() -> bool:
        return all(p.locator(".cm-MessagesPanel .cm-Message-new").count() == 0 for p in pages)

    eventually_sync(settled, timeout=30, what="every tab settled the announcement")
    assert sum(toasts_shown(p, "Pair up for exercise 3.") for p in pages) == 1

    # A reload (a JupyterLab restart in that tab) announces nothing again.
    first.reload()
    wait_kernel_ready(first)
    first.locator(".cm-MessagesPanel .cm-Message").wait_for(state="attached", timeout=30_000)
    assert sum(toasts_shown(p, "Pair up for exercise 3.") for p in pages) <= 1
    assert toasts_shown(first, "Pair up for exercise 3.") == 0
