"""End to end: JupyterLab in Chromium → server extension → class server.

Real software throughout: `cell-monitor serve` on a SQLite file, `jupyter lab`
with the extension as built for the wheel, and Debian's Chromium driven by
Playwright. The assertions read what the class server stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.lab import (
    JupyterLabProcess,
    notebook,
    wait_kernel_ready,
    watch_kernels,
    write_json,
)
from tests.support import ServerProcess, eventually_sync, instructor_headers

pytestmark = pytest.mark.e2e

# The student has accepted the data notice already (test_notice_e2e.py shows it).
SETTINGS = {
    "emailAddress": "ada@example.org",
    "userName": "Ada",
    "teamName": "A",
    "noticeAcknowledged": True,
}


def stored_events(server: ServerProcess) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    headers = instructor_headers(server.url)
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(
            f"{server.url}/api/v1/events", params=params, headers=headers, timeout=10
        ).json()
        events.extend(page["items"])
        cursor = page.get("nextCursor")
        if not cursor:
            return events


def stored_runs(server: ServerProcess, lab: JupyterLabProcess, what: str) -> list[dict[str, Any]]:
    """The cell_executed events on the class server, once there is one."""
    runs = lambda: by_type(stored_events(server), "cell_executed")  # noqa: E731
    return eventually_sync(runs, 30, what, interval=0.25, context=lab.log)


# Counts the JupyterLab notifications a page has shown, once each, by their text: a
# notification leaves the page when the student clicks its button (an animation later),
# so counting those still there would say how fast Chromium animates, not how many.
TOAST_COUNTER = """
(() => {
  const shown = new Map();
  const look = () => {
    for (const toast of document.querySelectorAll('.jp-Notification-Toast-info')) {
      shown.set(toast, toast.textContent || '');
    }
  };
  new MutationObserver(look).observe(document, {
    childList: true, subtree: true, characterData: true
  });
  window.cellMonitorToastsShown = text =>
    [...shown.values()].filter(seen => seen.includes(text)).length;
})();
"""


def toasts_shown(page: Any, text: str) -> int:
    """How many notifications with `text` this page has shown since it loaded."""
    return int(page.evaluate("text => window.cellMonitorToastsShown(text)", text))


def open_notebook(browser: Any, lab: JupyterLabProcess, name: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(TOAST_COUNTER)
    page = context.new_page()
    watch_kernels(page)
    page.goto(lab.open_url(name))
    wait_kernel_ready(page)
    return page


def run_cell(page: Any, index: int, expected_count: int) -> None:
    """Run one cell with Ctrl+Enter and wait for its execution count."""
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    cell.locator(".jp-InputPrompt", has_text=f"[{expected_count}]").wait_for(timeout=30_000)


def by_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["eventType"] == event_type]


def test_cells_help_and_notebook_events_reach_the_class_server(
    browser: Any, class_server: Callable[..., ServerProcess], jupyter_lab: Callable[..., Any]
) -> None:
    server = class_server()
    lab = jupyter_lab({"CELL_MONITOR_SERVER_URL": server.url}, SETTINGS)
    write_json(lab.root / "lesson.ipynb", notebook("x = 40 + 2\nprint(x)", "1/0"))

    page = open_notebook(browser, lab, "lesson.ipynb")
    run_cell(page, 0, 1)
    run_cell(page, 1, 2)
    help_button = page.locator(".jp-NotebookPanel .cm-HelpButton")
    assert help_button.locator(".cm-HelpButton-icon svg").is_visible()
    assert help_button.get_attribute("aria-pressed") == "false"
    shadow = "b => getComputedStyle(b).boxShadow"
    assert help_button.evaluate(shadow) == "none"
    help_button.click()
    assert help_button.get_attribute("aria-pressed") == "true"
    assert "Help requested" in help_button.inner_text()
    assert help_button.evaluate(shadow) != "none"  # visibly pressed in
    page.keyboard.press("Control+s")
    page.get_by_role("menuitem", name="Kernel").click()
    page.get_by_role("menuitem", name="Restart Kernel…").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()

    def complete() -> list[dict[str, Any]] | None:
        events = stored_events(server)
        types = {e["eventType"] for e in events}
        wanted = {"notebook_opened", "cell_executed", "help", "notebook_saved", "kernel_restarted"}
        done = wanted <= types and len(by_type(events, "cell_executed")) >= 2
        return events if done else None

    events = eventually_sync(
        complete, 45, "the events on the class server", interval=0.25, context=lab.log
    )
    page.context.close()

    executed = sorted(by_type(events, "cell_executed"), key=lambda e: e["cellIndex"])
    assert len(executed) == 2, executed
    ok, failed = executed
    assert ok["notebookPath"] == "lesson.ipynb"
    assert ok["cellIndex"] == 0 and ok["cellId"] == "cell-0" and ok["cellType"] == "code"
    assert ok["code"] == "x = 40 + 2\nprint(x)"
    assert ok["hasError"] is False and ok["result"] == "42"
    assert ok["executionCount"] == 1
    assert ok["executionDurationMs"] is not None and ok["executionDurationMs"] > 0
    assert ok["executionDurationMs"] < 10_000  # the kernel's time, not wall time since startup

    assert failed["hasError"] is True
    assert failed["errorName"] == "ZeroDivisionError"
    assert failed["errorMessage"] == "division by zero"
    assert "ZeroDivisionError" in failed["traceback"] and "\x1b[" not in failed["traceback"]
    assert failed["executionCount"] == 2 and failed["executionDurationMs"] > 0

    for event in events:
        assert event["emailAddress"] == "ada@example.org"
        assert event["userName"] == "Ada" and event["teamName"] == "A"
        assert event["sessionId"]
    assert by_type(events, "help")[0]["notebookPath"] == "lesson.ipynb"
    # Engagement reports may still be on their way (a tab or visibility change): all drain.
    eventually_sync(
        lambda: lab.monitor_status()["queueLength"] == 0, 20, "the queue to drain", interval=0.25
    )


def test_every_event_arrives_exactly_once_across_a_class_server_outage(
    browser: Any, class_server: Callable[..., ServerProcess], jupyter_lab: Callable[..., Any]
) -> None:
    server = class_server()
    lab = jupyter_lab(
        {
            "CELL_MONITOR_SERVER_URL": server.url,
            "CELL_MONITOR_RETRY_INITIAL_SECONDS": "0.2",
            "CELL_MONITOR_RETRY_MAX_SECONDS": "1",
            "CELL_MONITOR_WARN_AFTER_SECONDS": "1",
        },
        SETTINGS,
    )
    write_json(lab.root / "outage.ipynb", notebook("n = 0", "n += 1\nn"))
    page = open_notebook(browser, lab, "outage.ipynb")

    run_cell(page, 0, 1)
    stored_runs(server, lab, "first event")

    server.stop()  # the class server goes away while the student keeps working
    runs_during_outage = 5
    for count in range(2, 2 + runs_during_outage):
        run_cell(page, 1, count)
    eventually_sync(
        lambda: lab.monitor_status()["queueLength"] >= runs_during_outage,
        30,
        "the server extension to queue the events on disk",
        interval=0.25,
        context=lab.log,
    )
    status = lab.monitor_status()
    assert status["unreachableSeconds"] is not None and status["lastError"]
    indicator = page.locator(".cm-StatusIndicator")
    run_cell(page, 1, 2 + runs_during_outage)  # the student keeps going and is told
    runs_during_outage += 1
    indicator.filter(has_text="class server unreachable").wait_for(timeout=30_000)

    revived = class_server(port=server.port)  # same port, same database
    expected_runs = 1 + runs_during_outage

    def delivered() -> list[dict[str, Any]] | None:
        executed = by_type(stored_events(revived), "cell_executed")
        queue_empty = lab.monitor_status()["queueLength"] == 0
        return executed if len(executed) >= expected_runs and queue_empty else None

    executed = eventually_sync(
        delivered, 60, "delivery after the outage", interval=0.25, context=lab.log
    )
    run_cell(page, 1, expected_runs + 1)  # the next run refreshes the indicator
    page.locator(".cm-StatusIndicator-visible").wait_for(state="detached", timeout=30_000)
    page.context.close()

    executed = [e for e in executed if e["executionCount"] <= expected_runs]
    counts = Counter(e["executionCount"] for e in executed)
    assert sorted(counts) == list(range(1, expected_runs + 1))
    assert set(counts.values()) == {1}, f"duplicated executions: {counts}"
    assert len({e["eventId"] for e in executed}) == expected_runs
    last = max(executed, key=lambda e: e["executionCount"])
    assert last["result"] == str(runs_during_outage)
    assert lab.monitor_status()["unreachableSeconds"] is None


def test_events_not_yet_sent_survive_a_browser_reload(
    browser: Any, class_server: Callable[..., ServerProcess], jupyter_lab: Callable[..., Any]
) -> None:
    server = class_server()
    # A long send interval keeps the event in the page when it is reloaded.
    lab = jupyter_lab(
        {"CELL_MONITOR_SERVER_URL": server.url}, {**SETTINGS, "flushIntervalMs": 60000}
    )
    write_json(lab.root / "reload.ipynb", notebook("'before reload'"))
    page = open_notebook(browser, lab, "reload.ipynb")
    run_cell(page, 0, 1)
    # Before the batch is due: the event is only in the page and its localStorage.
    # The leaving page tries to send it; the next page sends what is left.
    page.reload()
    page.locator(".jp-NotebookPanel .cm-HelpButton").wait_for(timeout=60_000)

    def arrived() -> list[dict[str, Any]] | None:
        return by_type(stored_events(server), "cell_executed") or None

    executed = eventually_sync(
        arrived, 30, "the event captured before the reload", interval=0.25, context=lab.log
    )
    assert len(executed) == 1
    assert executed[0]["result"] == "'before reload'"
    pending_ids = """() => Object.keys(localStorage)
        .filter(k => k.startsWith('cell-monitor:pending:'))
        .flatMap(k => JSON.parse(localStorage.getItem(k)).map(e => e.eventId))"""
    eventually_sync(
        lambda: executed[0]["eventId"] not in page.evaluate(pending_ids),
        30,
        "the browser to forget the acknowledged event",
        interval=0.25,
        context=lab.log,
    )
    page.context.close()
    assert len(by_type(stored_events(server), "cell_executed")) == 1
