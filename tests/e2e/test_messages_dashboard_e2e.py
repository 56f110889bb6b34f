"""Messages from the real dashboard in Chromium: a hint to a hotspot, its receipts live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.dashboard_support import open_dashboard, post_events, sync_api_client
from tests.e2e.test_dashboard_a11y_e2e import audit
from tests.support import ServerProcess, event

pytestmark = pytest.mark.e2e


def failing(who: str) -> dict[str, Any]:
    return event(
        emailAddress=f"{who}@example.org",
        userName=who.title(),
        cellIndex=7,
        hasError=True,
        errorName="NameError",
        errorMessage="NameError: name 'df' is not defined",
    )


@pytest.fixture
def server(class_server: Callable[..., ServerProcess]) -> ServerProcess:
    server = class_server()
    with sync_api_client(server.url) as client:
        post_events(client, [failing(who) for who in ("ada", "bob", "cy")])
    return server


def test_a_hint_to_a_hotspot_and_its_receipts(server: ServerProcess, page: Any) -> None:
    open_dashboard(page, server.url)
    page.keyboard.press("3")
    hotspot = page.locator("#hotspots .hotspot").first
    hotspot.locator("summary").click()
    hotspot.get_by_role("button", name="Send a hint to these 3 students").click()
    page.locator("#compose-dialog[open]").wait_for()
    assert "3 students with NameError on cell 7" in page.inner_text("#compose-audience")
    assert audit(page) == []
    page.fill("#compose-body", "Run the **first** cell: it defines `df`. <script>x()</script>")
    page.fill("#compose-snippet", "df = load()")
    page.click("#compose-send")
    page.locator("#compose-dialog[open]").wait_for(state="detached")
    assert "sent to 3 students" in page.inner_text("#live-region")

    page.keyboard.press("7")
    item = page.locator("#messages-list .message").first
    item.wait_for()
    assert item.locator(".message-body strong").inner_text() == "first"
    assert "<script>x()</script>" in item.locator(".message-body").inner_text()
    assert item.locator(".message-body script").count() == 0
    assert (
        item.locator(".message-receipts").inner_text().startswith("seen by 0 of 3 · inserted by 0")
    )
    message_id = item.get_attribute("data-message")

    # Ada's JupyterLab reports that she inserted the snippet: the line updates live.
    with httpx.Client(base_url=server.url, timeout=30) as student:
        answer = event(
            emailAddress="ada@example.org", eventType="message_inserted", messageId=message_id
        )
        assert student.post("/api/v1/events", json=[answer]).json()["accepted"] == 1
    page.wait_for_function(
        "() => document.querySelector('#messages-list .message-receipts')"
        ".textContent.startsWith('seen by 1 of 3 · inserted by 1')"
    )
    item.get_by_role("button", name="Students").click()
    item.locator(".message-recipients li", has_text="inserted the snippet").wait_for()
    assert audit(page) == []
