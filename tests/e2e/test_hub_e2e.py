"""End to end on a real JupyterHub: hub sign-in, and students who can only be themselves.

The hub runs the configuration of docs/jupyterhub.md (tests/hub_support.py
adds ports, password sign-in and local process servers); cell-monitor is its
external service; Chromium drives the instructor's dashboard and a student's
JupyterLab spawned by the hub. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.lab import notebook, wait_kernel_ready, watch_kernels
from tests.hub_support import INSTRUCTOR, OUTSIDER, PASSWORD, Hub, hub_deployment
from tests.integration.test_health_metrics import value
from tests.integration.test_hub import events_of
from tests.support import ServerProcess, event, eventually_sync, instructor_headers

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, ServerProcess]]:
    with hub_deployment(tmp_path_factory.mktemp("hub-e2e")) as pair:
        yield pair


def hub_login(page: Any, user: str) -> None:
    """Fill in the hub's own sign-in form (the page must be showing it)."""
    page.locator("#username_input").wait_for(timeout=30_000)
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")


def live_student(server: ServerProcess, student: str) -> dict[str, Any] | None:
    response = httpx.get(
        f"{server.url}/api/v1/live", headers=instructor_headers(server.url), timeout=10
    )
    response.raise_for_status()
    for row in response.json()["students"]:
        if row.get("student") == student or row.get("userId") == student:
            return dict(row)
    return None


def run_cell(page: Any, index: int, attempts: int = 3) -> None:
    """Run one cell and wait for an execution count in its prompt.

    A run right after the kernel turns idle may execute without its prompt ever
    updating (JupyterLab is still settling): then it is run again. Both cells of
    the test give the same result when run twice (the forgery's eventId makes the
    second copy a duplicate).
    """
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(index)
    for attempt in range(attempts):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        try:
            cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).wait_for(
                timeout=30_000
            )
            return
        except Exception:  # Playwright's TimeoutError
            if attempt == attempts - 1:
                raise


def without_status(row: dict[str, Any]) -> dict[str, Any]:
    # `status` turns from active to idle with the clock alone.
    return {k: v for k, v in row.items() if k != "status"}


def test_the_instructor_signs_in_through_the_hub(
    deployment: tuple[Hub, ServerProcess], browser: Any
) -> None:
    hub, server = deployment
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.goto(f"{server.url}/dashboard")
    page.wait_for_url("**/login?next=**", timeout=10_000)
    page.click("text=Sign in with JupyterHub")
    page.wait_for_url(f"{hub.url}/hub/login**", timeout=10_000)
    hub_login(page, INSTRUCTOR)
    page.wait_for_url(f"{server.url}/dashboard**", timeout=30_000)
    page.locator("#connection[data-state='live']").wait_for(timeout=15_000)
    page.locator("#account-name", has_text=f"hub:{INSTRUCTOR}").wait_for(timeout=10_000)
    # Signing out ends the cell-monitor session like a local one does.
    page.click("text=Sign out")
    page.wait_for_url("**/login", timeout=10_000)
    page.goto(f"{server.url}/dashboard")
    page.wait_for_url("**/login?next=**", timeout=10_000)
    context.close()


def test_a_hub_user_outside_the_instructor_groups_gets_403(
    deployment: tuple[Hub, ServerProcess], browser: Any
) -> None:
    _hub, server = deployment
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    statuses: dict[str, int] = {}
    page.on(
        "response",
        lambda r: (
            statuses.__setitem__("callback", r.status) if "/login/hub/callback" in r.url else None
        ),
    )
    page.goto(f"{server.url}/login/hub?next=/dashboard")
    hub_login(page, OUTSIDER)
    page.locator("text=is not an instructor or teaching assistant").wait_for(timeout=30_000)
    assert statuses.get("callback") == 403
    assert "instructors" in page.content()
    # No session was opened: the dashboard still asks for a sign-in.
    page.goto(f"{server.url}/dashboard")
    page.wait_for_url("**/login?next=**", timeout=10_000)
    context.close()


# Run from alice's own kernel: the token her server was given by the hub, a body
# that says it is bob. The printed JSON is the class server's answer.
FORGERY = """
import json, os, urllib.request
forged = [{"eventType": "help", "eventId": "forged-by-alice-1",
           "userId": "bob", "emailAddress": "bob@school.example", "userName": "Bob",
           "notebookPath": "lesson.ipynb"}]
request = urllib.request.Request(
    os.environ["CELL_MONITOR_SERVER_URL"] + "/api/v1/events",
    data=json.dumps(forged).encode(), method="POST",
    headers={"Content-Type": "application/json",
             "Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]})
print("ANSWER", urllib.request.urlopen(request).read().decode())
"""


def test_a_students_lab_on_the_hub_reports_as_the_hub_user_only(
    deployment: tuple[Hub, ServerProcess], browser: Any
) -> None:
    hub, server = deployment
    # bob is in class already: his live state is what alice must not touch.
    bob_token = hub.user_token("bob")
    answer = httpx.post(
        f"{server.url}/api/v1/events",
        json=[event(emailAddress=None, userId="bob", userName="Bob", code="print('bob')")],
        headers={"Authorization": f"token {bob_token}"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    bob_before = eventually_sync(
        lambda: live_student(server, "bob"), 10, "bob's live state", interval=0.25
    )

    home = Path(hub.base) / "home" / "alice"
    (home / "lesson.ipynb").write_text(json.dumps(notebook("21 * 2", FORGERY)))
    server_url = hub.start_server("alice")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch_kernels(page)
    page.goto(f"{server_url}lab/tree/lesson.ipynb")
    hub_login(page, "alice")
    wait_kernel_ready(page, timeout=90_000)
    for index in (0, 1):
        run_cell(page, index)
    output = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(1).locator(".jp-OutputArea")
    output.locator("text=ANSWER").wait_for(timeout=30_000)
    assert '"rejected":[]' in output.inner_text()  # accepted (or, run twice, a duplicate)

    # The lab's events arrive under the hub user, in the team her hub group names.
    executed = eventually_sync(
        lambda: [e for e in events_of(server, "alice") if e["code"] == "21 * 2"],
        30,
        "alice's cell execution",
        interval=0.25,
    )
    assert executed[0]["userId"] == "alice"
    assert executed[0]["teamName"] == "red"
    # The forgery from her kernel is stored as hers, never as bob's.
    forged = [e for e in events_of(server, "alice") if e["eventId"] == "forged-by-alice-1"]
    assert forged and forged[0]["userId"] == "alice" and forged[0]["emailAddress"] is None
    assert all(e["eventId"] != "forged-by-alice-1" for e in events_of(server, "bob"))
    assert all(e["student"] == "bob" for e in events_of(server, "bob"))
    bob_after = live_student(server, "bob")
    assert bob_after is not None and bob_after["helpSince"] is None
    assert without_status(bob_after) == without_status(bob_before)
    alice = live_student(server, "alice")
    assert alice is not None and alice["helpSince"] is not None
    assert alice["userName"] == "alice"  # the hub's name, not the forged "Bob"
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert value(metrics, "ingest_identity_mismatch_total", action="overwritten") >= 1
    context.close()
