"""The dashboard for the room, in real Chromium against a real `cell-monitor serve`.

An axe-core audit (WCAG 2.1 A/AA) of every view, the sign-in page and the
student dialog in both themes; a keyboard-only walkthrough while live updates
arrive; an erased student leaving open dashboards; projector mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import (
    dashboard_context,
    open_dashboard,
    post_events,
    realistic_class,
    sync_api_client,
)
from tests.support import ServerProcess, event

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def person(name: str, team: str = "Team A") -> dict[str, Any]:
    return {"emailAddress": f"{name}@example.org", "userName": name.title(), "teamName": team}


def post(server: ServerProcess, *events: dict[str, Any]) -> None:
    with sync_api_client(server.url) as client:
        post_events(client, list(events))


def failing(name: str, cell: int = 3) -> dict[str, Any]:
    return event(
        cellIndex=cell,
        hasError=True,
        errorName="NameError",
        errorMessage="name 'df' is not defined",
        **person(name),
    )


@pytest.fixture
def server(class_server: Callable[..., ServerProcess]) -> ServerProcess:
    return class_server()


def audit(page: Any) -> list[str]:
    """Critical and serious WCAG 2.1 A/AA violations on the page, as readable lines."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` (it is a devDependency)")
    # The page's CSP forbids injected scripts; the contexts here bypass it.
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node['failureSummary']}"
        for v in result["violations"]
        if v["impact"] in ("critical", "serious")
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_view_passes_an_axe_audit(server: ServerProcess, browser: Any, scheme: str) -> None:
    post(server, *realistic_class(40, cells=10))
    context = dashboard_context(
        browser, server.url, viewport={"width": 1920, "height": 1080}, color_scheme=scheme
    )
    page = open_dashboard(context.new_page(), server.url)
    page.locator("#help-list .attention-item").first.wait_for()
    assert page.evaluate("getComputedStyle(document.body).colorScheme") == scheme
    found: dict[str, list[str]] = {}
    found["class"] = audit(page)

    page.keyboard.press("2")
    page.locator("#heatmap .heatmap").wait_for()
    found["progress"] = audit(page)
    page.select_option("#progress-mode", "aggregate")
    page.locator("#heatmap .aggregate").wait_for()
    found["progress-aggregate"] = audit(page)

    page.keyboard.press("3")
    page.locator("#hotspots .hotspot summary").first.click()
    found["errors"] = audit(page)

    page.keyboard.press("4")
    page.locator("#activity-chart svg").wait_for()
    found["activity"] = audit(page)

    page.keyboard.press("5")
    page.locator("#code-notebook option").first.wait_for(state="attached")
    found["code"] = audit(page)

    page.keyboard.press("1")
    page.locator("#help-list .attention-open").first.click()
    page.locator("#detail-runs .run").first.wait_for()
    found["student-dialog"] = audit(page)
    page.keyboard.press("Escape")

    page.keyboard.press("p")
    page.locator("html[data-projector='on']").wait_for()
    found["projector"] = audit(page)
    context.close()

    signed_out = dashboard_context(browser, server.url, signed_in=False, color_scheme=scheme)
    login = signed_out.new_page()
    login.goto(f"{server.url}/dashboard#progress")
    login.locator("#password").wait_for()
    found["login"] = audit(login)
    signed_out.close()

    assert {view: problems for view, problems in found.items() if problems} == {}


def test_keyboard_only_dismiss_while_that_students_updates_arrive(
    server: ServerProcess, browser: Any
) -> None:
    post(server, event(**person("ada")), event(**person("cy")), event(**person("bob")))
    post(server, event(eventType="help", **person("bob")))
    context = dashboard_context(browser, server.url, viewport={"width": 1600, "height": 1000})
    page = open_dashboard(context.new_page(), server.url)
    dismiss = page.locator("#help-list [data-student='bob@example.org'] .attention-action")
    dismiss.wait_for()

    # Tab (only) to bob's Dismiss button, as a keyboard user would.
    for _ in range(80):
        page.keyboard.press("Tab")
        if dismiss.evaluate("node => node === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the Dismiss button")
    dismiss.evaluate("node => { node.dataset.marker = 'kept' }")
    ring = dismiss.evaluate("node => getComputedStyle(node).outlineStyle")
    assert ring == "solid", "the focused button shows a focus ring"

    # Bob keeps working: each run is a live update of his item (and tile).
    for cell in range(1, 5):
        post(server, event(cellIndex=cell, **person("bob")))
        page.locator(
            "#help-list [data-student='bob@example.org'] .attention-where", has_text=f"cell {cell}"
        ).wait_for(timeout=3000)
        assert page.evaluate("document.activeElement.dataset.marker") == "kept"

    page.keyboard.press("Enter")
    page.locator("#help-list li[data-student='bob@example.org']").wait_for(
        state="detached", timeout=3000
    )
    assert page.evaluate("document.activeElement.id") == "attention"  # not the page body
    with sync_api_client(server.url) as client:
        live = {s["student"]: s for s in client.get("/api/v1/live").json()["students"]}
    assert live["bob@example.org"]["helpSince"] is None

    # A tile keeps the focus while it re-sorts (cy becomes stuck and moves first).
    cy = page.locator(".tile[data-student='cy@example.org']")
    for _ in range(80):
        page.keyboard.press("Shift+Tab")
        if cy.evaluate("node => node === document.activeElement"):
            break
    else:
        pytest.fail("Shift+Tab never reached cy's tile")
    cy.evaluate("node => { node.dataset.marker = 'tile' }")
    post(server, *[failing("cy") for _ in range(3)])
    page.locator(".tile[data-student='cy@example.org'][data-status='stuck']").wait_for()
    assert page.locator(".tile").first.get_attribute("data-student") == "cy@example.org"
    assert page.evaluate("document.activeElement.dataset.marker") == "tile"
    page.keyboard.press("Enter")
    page.locator("#student-dialog[open]").wait_for()
    # The dialog's action keeps the focus through that student's updates too.
    handled = page.locator("#detail-live [data-action='stuck']")
    handled.focus()
    handled.evaluate("node => { node.dataset.marker = 'dialog' }")
    post(server, failing("cy", cell=5))
    page.locator("#detail-live", has_text="cell 5").wait_for()
    assert page.evaluate("document.activeElement.dataset.marker") == "dialog"
    page.keyboard.press("Space")
    handled.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == "detail-close"
    context.close()


def test_an_erased_student_leaves_open_dashboards_at_once(
    browser: Any, tmp_path: Path, redis_url: str
) -> None:
    """`cell-monitor student delete` announces the erasure on Redis; the page drops them."""
    data = tmp_path / "class-server"
    env = {
        "CELL_MONITOR_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'cell-monitor.sqlite3'}",
        "REDIS_URL": redis_url,
        "CELL_MONITOR_REDIS_CHANNEL": f"cell-monitor-test-{uuid.uuid4().hex[:8]}",
    }
    server = ServerProcess(env).wait_ready()
    try:
        post(server, event(**person("ada")), *[failing("bob") for _ in range(3)])
        post(server, event(eventType="help", **person("bob")))
        context = dashboard_context(browser, server.url)
        page = open_dashboard(context.new_page(), server.url)
        page.locator("#stuck-list li[data-student='bob@example.org']").wait_for()
        page.locator(".tile[data-student='ada@example.org']").evaluate(
            "node => { node.dataset.marker = 'kept' }"
        )
        page.locator("#help-list .attention-open[data-student='bob@example.org']").click()
        page.locator("#student-dialog[open]").wait_for()

        command = [sys.executable, "-m", "cell_monitor.cli", "student", "delete"]
        deleted = subprocess.run(
            [*command, "bob@example.org", "--yes"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        assert "to 1 server worker(s)" in deleted.stdout + deleted.stderr

        page.locator(".tile[data-student='bob@example.org']").wait_for(
            state="detached", timeout=3000
        )
        assert page.locator("[data-student='bob@example.org']").count() == 0
        assert page.locator("#help-count").inner_text() == "0"
        assert page.locator("#stuck-count").inner_text() == "0"
        chips = page.locator("#status-chips").inner_text()
        assert "Help\n0" in chips or "Help 0" in chips.replace("\n", " ")
        assert page.locator(".detail-gone").is_visible()
        assert not page.locator("#detail-live [data-action]").first.is_visible()
        # Nothing else was redrawn: ada's tile is the same element.
        marker = page.locator(".tile[data-student='ada@example.org']").get_attribute("data-marker")
        assert marker == "kept"
        context.close()
    finally:
        server.stop()


def test_projector_mode_is_large_names_only_and_remembered(
    server: ServerProcess, browser: Any
) -> None:
    post(server, *realistic_class(30, cells=8))
    context = dashboard_context(browser, server.url, viewport={"width": 1920, "height": 1080})
    page = open_dashboard(context.new_page(), server.url)
    page.select_option("#sort-by", "name")
    page.locator("#projector-toggle").click()
    assert page.locator("#projector-toggle").get_attribute("aria-pressed") == "true"
    page.locator("html[data-projector='on']").wait_for()

    def px(selector: str, prop: str = "fontSize") -> float:
        return float(
            page.locator(selector)
            .first.evaluate(f"n => getComputedStyle(n).{prop}")
            .removesuffix("px")
        )

    # Who needs attention comes first and large; names >= 24 px, counts >= 32 px.
    first = page.locator(".tile").first
    assert first.get_attribute("data-status") in ("help", "stuck", "error")
    assert px(".tile.status-help .tile-name") >= 24
    assert px(".tile.status-active .tile-name, .tile.status-idle .tile-name") >= 24
    assert px(".chip-count") >= 32 and px("#help-count") >= 32
    help_tile = page.locator(".tile.status-help").first.bounding_box()
    calm_tile = page.locator(".tile.status-idle, .tile.status-active").last.bounding_box()
    assert help_tile["width"] > calm_tile["width"] * 1.8
    assert help_tile["height"] > calm_tile["height"] * 1.5
    assert page.locator("#sort-by").is_disabled()
    # Names only: no e-mail address or account name on the screen.
    assert "@" not in page.locator("body").inner_text()
    assert not page.locator("#account-name").is_visible()

    page.keyboard.press("p")
    assert page.locator("html").get_attribute("data-projector") is None
    assert page.locator("#sort-by").input_value() == "name"  # the choice comes back
    assert page.locator("#sort-by").is_enabled()

    page.keyboard.press("p")
    page.reload()
    page.locator("#connection[data-state='live']").wait_for()
    assert page.locator("html").get_attribute("data-projector") == "on"
    assert page.locator("#projector-toggle").get_attribute("aria-pressed") == "true"
    page.keyboard.press("p")
    page.reload()
    page.locator("#connection[data-state='live']").wait_for()
    assert page.locator("html").get_attribute("data-projector") is None
    context.close()


def test_theme_follows_the_system_until_chosen_and_is_remembered(
    server: ServerProcess, browser: Any
) -> None:
    context = dashboard_context(browser, server.url, color_scheme="dark")
    page = open_dashboard(context.new_page(), server.url)
    background = "getComputedStyle(document.body.parentElement).backgroundColor"
    dark = page.evaluate(background)
    assert page.locator("#theme-toggle").get_attribute("aria-pressed") == "true"
    page.locator("#theme-toggle").click()
    assert page.locator("html").get_attribute("data-theme") == "light"
    light = page.evaluate(background)
    assert light != dark
    page.reload()
    page.locator("#connection[data-state='live']").wait_for()
    assert page.evaluate(background) == light
    assert page.locator("#theme-toggle").get_attribute("aria-pressed") == "false"
    context.close()


def test_sign_in_page_has_the_icon(server: ServerProcess, browser: Any) -> None:
    context = dashboard_context(browser, server.url, signed_in=False)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    href = page.locator("link[rel='icon']").get_attribute("href")
    response = page.request.get(f"{server.url}{href}")
    assert response.ok and response.headers["content-type"] == "image/svg+xml"
    context.close()
