"""The login page in real Chromium: works without JavaScript, breaks no content policy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import TEST_ADMIN, TEST_ADMIN_PASSWORD, ServerProcess

pytestmark = pytest.mark.e2e


def test_sign_in_without_javascript_and_return_to_the_page(
    browser: Any, class_server: Callable[..., ServerProcess]
) -> None:
    server = class_server()
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content" in m.text else None)
        # A page load of a protected address goes to the login form and back.
        page.goto(f"{server.url}/api/v1/stats")
        assert page.url.startswith(f"{server.url}/login?next=")
        assert page.locator("link[rel=stylesheet]").count() == 1
        # The style sheet applied under `default-src 'self'`.
        assert page.eval_on_selector("body", "b => getComputedStyle(b).display") == "grid"
        page.fill("#username", TEST_ADMIN)
        page.fill("#password", "not-the-password")
        page.click("button[type=submit]")
        assert "Wrong username or password" in page.content()
        page.fill("#password", TEST_ADMIN_PASSWORD)
        page.click("button[type=submit]")
        assert page.url == f"{server.url}/api/v1/stats"
        assert "events" in json.loads(page.locator("body").inner_text())
        assert not violations
        cookie = next(c for c in context.cookies() if c["name"] == "cell_monitor_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    finally:
        context.close()
