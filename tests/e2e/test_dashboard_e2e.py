"""The instructor dashboard in real Chromium against a real `cell-monitor serve`.

Events go in through the public API; the assertions read what the page shows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.dashboard_support import (
    dashboard_context,
    open_dashboard,
    post_events,
    realistic_class,
    sync_api_client,
    wait_live,
)
from tests.support import TEST_ADMIN, TEST_ADMIN_PASSWORD, ServerProcess, event

pytestmark = pytest.mark.e2e

NAME_ERROR = {
    "hasError": True,
    "errorName": "NameError",
    "errorMessage": "name 'df' is not defined",
}


def person(name: str, team: str = "A") -> dict[str, Any]:
    return {"emailAddress": f"{name}@example.org", "userName": name.title(), "teamName": team}


@pytest.fixture
def server(class_server: Callable[..., ServerProcess]) -> ServerProcess:
    return class_server()


def post(server: ServerProcess, *events: dict[str, Any]) -> None:
    with sync_api_client(server.url) as client:
        post_events(client, list(events))


def test_help_request_appears_within_a_second_and_goes_on_dismiss(
    server: ServerProcess, page: Any
) -> None:
    post(server, event(**person("ada")), event(**person("bob")))
    open_dashboard(page, server.url)
    page.locator(".tile[data-student='ada@example.org']").wait_for()
    tile = page.locator(".tile[data-student='bob@example.org']")
    tile.evaluate("node => { node.dataset.marker = 'kept' }")

    post(server, event(eventType="help", **person("bob")))
    item = page.locator("#help-list .attention-item[data-student='bob@example.org']")
    item.wait_for(timeout=1000)
    assert "Bob" in item.inner_text() and "waiting" in item.inner_text()
    assert "Help requested by Bob" in page.locator("#live-region").inner_text()
    assert page.locator("#notice").is_visible()
    assert page.locator("#help-count").inner_text() == "1"
    assert page.title().startswith("(1) ")
    # The same tile element, updated in place (not a re-render of the class).
    assert tile.get_attribute("data-status") == "help"
    assert tile.get_attribute("data-marker") == "kept"
    assert tile.get_attribute("aria-label") is None  # named by its visible text
    assert tile.inner_text().startswith("Help:") or "Help:" in tile.text_content()

    item.locator(".attention-action").click()
    item.wait_for(state="detached", timeout=2000)
    assert page.locator("#help-empty").is_visible()
    with sync_api_client(server.url) as client:
        live = client.get("/api/v1/live").json()["students"]
    assert {s["student"]: s["helpSince"] for s in live}["bob@example.org"] is None

    # By keyboard: h focuses the oldest request, d dismisses it.
    post(server, event(eventType="help", **person("ada")))
    item = page.locator("#help-list .attention-item[data-student='ada@example.org']")
    item.wait_for(timeout=1000)
    page.keyboard.press("h")
    assert page.evaluate("document.activeElement.dataset.student") == "ada@example.org"
    page.keyboard.press("d")
    item.wait_for(state="detached", timeout=2000)


def test_stuck_student_is_flagged_with_the_error_and_can_be_handled(
    server: ServerProcess, page: Any
) -> None:
    post(server, event(**person("cy")))
    open_dashboard(page, server.url)
    post(server, *[event(cellIndex=4, **person("cy"), **NAME_ERROR) for _ in range(3)])
    item = page.locator("#stuck-list .attention-item[data-student='cy@example.org']")
    item.wait_for(timeout=2000)
    assert "NameError: name 'df' is not defined" in item.inner_text()
    assert "\N{MULTIPLICATION SIGN}3" in item.inner_text() and "cell 4" in item.inner_text()
    tile = page.locator(".tile[data-student='cy@example.org']")
    assert tile.get_attribute("data-status") == "stuck"
    assert "Stuck:" in (tile.text_content() or "")
    # Priority sort: the stuck student comes first.
    assert page.locator(".tile").first.get_attribute("data-student") == "cy@example.org"

    item.locator(".attention-action").click()
    item.wait_for(state="detached", timeout=2000)
    assert page.locator("#stuck-empty").is_visible()


@pytest.mark.parametrize("student", ["../a/b", "50% off/ü", "."])
def test_any_student_id_can_be_opened_dismissed_and_handled(
    server: ServerProcess, page: Any, student: str
) -> None:
    """Ids are whatever a client sent: one with "/", "..", "%" must not plant an alert for good."""
    who = {"userId": student, "emailAddress": None, "userName": "Odd"}
    open_dashboard(page, server.url)
    post(server, event(eventType="help", **who), *[event(**who, **NAME_ERROR) for _ in range(3)])
    selector = f"[data-student={json.dumps(student, ensure_ascii=False)}]"
    help_item = page.locator(f"#help-list .attention-item{selector}")
    help_item.wait_for(timeout=2000)
    page.locator(f".tile{selector}").click()
    page.locator("#detail-runs .run-failed").first.wait_for()
    page.locator("#detail-close").click()
    help_item.locator(".attention-action").click()
    help_item.wait_for(state="detached", timeout=2000)
    stuck_item = page.locator(f"#stuck-list .attention-item{selector}")
    stuck_item.locator(".attention-action").click()
    stuck_item.wait_for(state="detached", timeout=2000)
    assert page.locator(f".tile{selector}").get_attribute("data-status") == "error"


def test_heatmap_and_hotspots_reflect_posted_executions(server: ServerProcess, page: Any) -> None:
    post(
        server,
        event(cellIndex=0, **person("ada")),
        event(cellIndex=1, **person("ada"), **NAME_ERROR),
        event(cellIndex=0, **person("bob")),
        event(cellIndex=0, **person("zed", team="B")),
    )
    open_dashboard(page, server.url, view="progress")
    heatmap = page.locator("#heatmap .heatmap")
    heatmap.wait_for()
    ada = page.locator(".hm-row[data-student='ada@example.org'] .hm-cell")
    assert ada.nth(0).get_attribute("class") == "hm-cell ok"
    assert ada.nth(1).get_attribute("class") == "hm-cell failed"
    bob = page.locator(".hm-row[data-student='bob@example.org'] .hm-cell")
    assert bob.nth(1).get_attribute("class") == "hm-cell none"
    assert page.locator(".hm-count").all_inner_texts() == ["3", "1"]

    # New executions arrive over the feed and the heatmap follows.
    post(server, event(cellIndex=1, **person("bob")), event(cellIndex=2, **person("bob")))
    page.wait_for_function(
        "document.querySelectorAll('.hm-row[data-student=\"bob@example.org\"] .hm-cell.ok')"
        ".length === 3",
        timeout=5000,
    )
    assert page.locator(".hm-count").all_inner_texts() == ["3", "2", "1"]
    # Zoom: bigger cells, remembered across a reload.
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_function(
        "document.querySelector('#heatmap .heatmap')?.style.getPropertyValue('--hm-zoom') === '1.5'"
    )
    assert page.locator("#zoom-level").inner_text() == "150 %"
    page.reload()
    page.locator("#heatmap .heatmap").wait_for()
    assert page.locator("#zoom-level").inner_text() == "150 %"
    page.get_by_role("button", name="Zoom out").click()
    assert page.locator("#zoom-level").inner_text() == "100 %"
    assert page.get_by_role("button", name="Zoom out").is_disabled()

    page.select_option("#progress-team", "B")
    page.wait_for_function("document.querySelectorAll('.hm-row[data-student]').length === 1")
    assert page.locator(".hm-row[data-student='zed@example.org']").count() == 1

    page.keyboard.press("3")
    post(server, event(cellIndex=1, **person("bob"), **NAME_ERROR))
    first = page.locator("#hotspots .hotspot").first
    page.wait_for_function(
        "document.querySelector('#hotspots .hotspot-count')?.textContent === '2'", timeout=5000
    )
    assert "NameError: name 'df' is not defined" in first.inner_text()
    assert "cell 1" in first.inner_text()
    first.locator("summary").click()
    first.locator("button[data-student='bob@example.org']").click()
    dialog = page.locator("#student-dialog")
    dialog.wait_for()
    page.locator("#detail-runs .run-failed").first.wait_for()
    assert "NameError" in page.locator("#detail-runs").inner_text()


def test_page_reconnects_and_resyncs_after_a_server_restart(
    server: ServerProcess, class_server: Callable[..., ServerProcess], page: Any
) -> None:
    post(server, event(**person("ada")))
    open_dashboard(page, server.url)
    page.locator(".tile[data-student='ada@example.org']").wait_for()

    server.stop()
    page.locator("#connection:not([data-state='live'])").wait_for(timeout=5000)
    assert page.locator("#reconnect").is_visible()

    restarted = class_server(port=server.port)
    # Raised while this page is (most likely) still waiting to retry: it must
    # come with the snapshot the page gets on reconnecting.
    post(restarted, event(eventType="help", **person("bob")))
    wait_live(page, timeout=20_000)
    page.locator("#help-list .attention-item[data-student='bob@example.org']").wait_for(
        timeout=2000
    )
    assert page.locator(".tile[data-student='ada@example.org']").count() == 1
    post(restarted, *[event(**person("cy"), **NAME_ERROR) for _ in range(3)])
    stuck = page.locator("#stuck-list .attention-item[data-student='cy@example.org']")
    stuck.wait_for(timeout=2000)


def test_two_hundred_students_fit_one_screen_and_filters_work(
    server: ServerProcess, page: Any
) -> None:
    post(server, *realistic_class(200, cells=8))
    open_dashboard(page, server.url)
    page.wait_for_function("document.querySelectorAll('.tile').length === 200")
    bottom = page.evaluate(
        "Math.max(...[...document.querySelectorAll('.tile')]"
        ".map(t => t.getBoundingClientRect().bottom))"
    )
    assert bottom <= 1080, f"tiles end at {bottom}px"
    # Every status shows as text too, not only as a colour.
    statuses = page.locator(".tile").evaluate_all("ts => ts.map(t => t.dataset.status)")
    assert {"help", "stuck", "active"} <= set(statuses)

    page.keyboard.press("/")
    page.keyboard.type("team b")
    page.wait_for_function("document.querySelectorAll('.tile').length === 25")
    page.keyboard.press("Escape")
    page.fill("#filter", "")
    page.select_option("#group-by", "team")
    page.wait_for_function(
        "[...document.querySelectorAll('.group-title')].filter(t => !t.hidden).length === 8"
    )
    page.select_option("#sort-by", "name")
    page.wait_for_function(
        """() => {
            const names = [...document.querySelector('.tile-grid').querySelectorAll('.tile-name')]
                .map(n => n.textContent.toLowerCase());
            return names.every((n, i) => i === 0 || names[i - 1].localeCompare(n) <= 0);
        }"""
    )


def test_audible_alert_is_opt_in_and_remembered(server: ServerProcess, browser: Any) -> None:
    context = dashboard_context(browser, server.url)
    page = context.new_page()
    open_dashboard(page, server.url)
    assert not page.locator("#sound-toggle").is_checked()
    page.keyboard.press("m")
    assert page.locator("#sound-toggle").is_checked()
    page.reload()
    wait_live(page)
    assert page.locator("#sound-toggle").is_checked()
    page.keyboard.press("?")
    assert page.locator("#shortcuts-dialog").is_visible()
    assert "Dismiss the focused help request" in page.locator("#shortcuts-list").inner_text()
    context.close()


def test_signing_in_leads_to_the_dashboard(server: ServerProcess, browser: Any) -> None:
    context = dashboard_context(browser, server.url, signed_in=False)
    page = context.new_page()
    page.goto(f"{server.url}/dashboard#progress")
    page.wait_for_url("**/login?next=**", timeout=5000)
    # A wrong password first: the page comes back (a POST: no #fragment in
    # its URL) and the bookmarked view must still be in the form.
    page.fill("#username", TEST_ADMIN)
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    page.locator(".message").wait_for()
    page.fill("#password", TEST_ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard#progress", timeout=5000)
    wait_live(page)
    assert page.locator("#view-progress").is_visible()
    assert not page.locator("#view-class").is_visible()
    page.locator("#account-name", has_text=TEST_ADMIN).wait_for()
    # Signing out ends the session: the dashboard asks for a sign-in again.
    page.click("text=Sign out")
    page.wait_for_url("**/login", timeout=5000)
    page.goto(f"{server.url}/dashboard")
    page.wait_for_url("**/login?next=**", timeout=5000)
    context.close()


def test_a_session_that_ends_leads_to_the_sign_in_page(server: ServerProcess, browser: Any) -> None:
    post(server, event(**person("ada")))
    context = dashboard_context(browser, server.url)
    page = open_dashboard(context.new_page(), server.url)
    # The session ends (its cookie expires): the next API call answers 401. That call
    # is the student's detail opened here, or the help desk's periodic figures if they
    # come first, so the click must not wait on a page that may already be leaving.
    context.clear_cookies()
    with contextlib.suppress(PlaywrightError):  # the page navigated during the call
        page.evaluate("document.querySelector('.tile')?.click()")
    page.wait_for_url("**/login?next=**", timeout=10_000)
    assert "/login?next=%2Fdashboard" in page.url
    page.locator("#password").wait_for()
    context.close()


def test_no_console_errors_under_the_servers_policy(server: ServerProcess, browser: Any) -> None:
    context = dashboard_context(browser, server.url, enforce_csp=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    post(server, event(**person("ada")), event(eventType="help", **person("ada")))
    response = page.goto(f"{server.url}/dashboard#class")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    wait_live(page)
    # Each view in turn, once its data has come and it shows (views 2-4 fetch theirs).
    fetches = {"2": "/api/v1/progress", "3": "/api/v1/hotspots", "4": "/api/v1/activity"}
    for key, name in zip("1234", ("class", "progress", "errors", "activity"), strict=True):
        if key in fetches:
            with page.expect_response(lambda r, path=fetches[key]: path in r.url) as answer:
                page.keyboard.press(key)
            answer.value.finished()
        else:
            page.keyboard.press(key)
        page.locator(f"#view-{name}").wait_for(state="visible")
    page.keyboard.press("1")
    page.locator(".tile").first.click()
    page.locator("#detail-runs li, #detail-runs-empty").first.wait_for()
    assert problems == []
    context.close()
