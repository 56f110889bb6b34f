"""End to end: the data notice in JupyterLab, informational and with consent required.

Same real setup as test_lab_e2e.py: `cell-monitor serve`, `jupyter lab` with the
built extension, Debian's Chromium. What the class server stored, the server
extension's queue and the page's localStorage say whether anything left.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.lab import (
    JupyterLabProcess,
    notebook,
    wait_kernel_ready,
    watch_kernels,
    write_json,
)
from tests.e2e.test_lab_e2e import by_type, run_cell, stored_events, stored_runs
from tests.support import ServerProcess, eventually_sync

pytestmark = pytest.mark.e2e

SETTINGS = {"emailAddress": "ada@example.org", "userName": "Ada", "teamName": "A"}
CONTACT = "privacy@school.example (Ms. Noether, room 12)"
NOTICE = ".jp-Dialog .cm-Notice"
PENDING = """() => Object.keys(localStorage)
    .filter(k => k.startsWith('cell-monitor:pending:'))
    .flatMap(k => JSON.parse(localStorage.getItem(k)))"""


def open_with_notice(browser: Any, lab: JupyterLabProcess, name: str) -> Any:
    """Open a notebook; the notice shows up over it (the kernel may start meanwhile)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch_kernels(page)
    page.goto(lab.open_url(name))
    page.locator(NOTICE).wait_for(timeout=60_000)
    return page


def acknowledged(lab: JupyterLabProcess) -> bool:
    response = lab.api("GET", "lab/api/settings/cell-monitor:plugin")
    response.raise_for_status()
    return bool(json.loads(response.text)["settings"].get("noticeAcknowledged"))


def test_the_notice_says_what_is_collected_and_where_it_goes(
    browser: Any, class_server: Callable[..., ServerProcess], jupyter_lab: Callable[..., Any]
) -> None:
    server = class_server()
    lab = jupyter_lab(
        {"CELL_MONITOR_SERVER_URL": server.url, "CELL_MONITOR_PRIVACY_CONTACT": CONTACT},
        SETTINGS,
    )
    write_json(lab.root / "notice.ipynb", notebook("6 * 7"))
    page = open_with_notice(browser, lab, "notice.ipynb")
    text = page.locator(NOTICE).inner_text()
    for expected in ("code of every cell", "error", "notebooks", "help", server.url, CONTACT):
        assert expected in text, (expected, text)
    assert "ada@example.org" in text  # the identity used
    assert "unless you accept" not in text  # informational: no consent asked
    page.get_by_role("button", name="OK, understood").click()
    eventually_sync(
        lambda: acknowledged(lab),
        20,
        "the acknowledgement to be saved",
        interval=0.25,
        context=lab.log,
    )
    wait_kernel_ready(page)
    run_cell(page, 0, 1)
    stored_runs(server, lab, "the run")

    page.reload()  # shown once: not again after a reload
    wait_kernel_ready(page)
    assert page.locator(NOTICE).count() == 0
    page.context.close()


def test_with_consent_required_nothing_is_sent_before_acceptance(
    browser: Any, class_server: Callable[..., ServerProcess], jupyter_lab: Callable[..., Any]
) -> None:
    server = class_server()
    lab = jupyter_lab(
        {"CELL_MONITOR_SERVER_URL": server.url, "CELL_MONITOR_REQUIRE_CONSENT": "1"},
        {**SETTINGS, "flushIntervalMs": 200},
    )
    write_json(lab.root / "consent.ipynb", notebook("'declined'", "'accepted'"))
    page = open_with_notice(browser, lab, "consent.ipynb")
    assert "unless you accept" in page.locator(NOTICE).inner_text()
    page.get_by_role("button", name="Decline").click()
    wait_kernel_ready(page)
    run_cell(page, 0, 1)
    help_button = page.locator(".jp-NotebookPanel .cm-HelpButton")
    help_button.click()
    assert help_button.get_attribute("aria-pressed") == "false"  # no pretending
    page.keyboard.press("Control+s")
    page.locator(".cm-StatusIndicator", has_text="not recording").wait_for(timeout=30_000)
    # Nothing left so far; that nothing leaves later either shows at the end: the
    # run after consent arrives, and anything held from before would precede it.
    assert stored_events(server) == []
    assert lab.monitor_status()["queueLength"] == 0
    assert page.evaluate(PENDING) == []  # not even kept in the browser
    assert not acknowledged(lab)

    page.reload()  # asked again; this time the student accepts
    page.locator(NOTICE).wait_for(timeout=60_000)
    page.get_by_role("button", name="Accept").click()
    eventually_sync(
        lambda: acknowledged(lab), 20, "the consent to be saved", interval=0.25, context=lab.log
    )
    wait_kernel_ready(page)
    run_cell(page, 1, 2)
    runs = stored_runs(server, lab, "the run after consent")
    page.context.close()
    assert [e["result"] for e in runs] == ["'accepted'"]
    assert all(e["eventTime"] for e in stored_events(server))
    assert not any(e.get("result") == "'declined'" for e in stored_events(server))
    assert by_type(stored_events(server), "help") == []  # pressed while declined
    assert by_type(stored_events(server), "notebook_saved") == []
