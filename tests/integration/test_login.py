"""The login page, sessions, CSRF and Origin checks, login rate limits, recorded actions."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from cell_monitor.accounts import users
from cell_monitor.accounts.sessions import COOKIE_NAME
from cell_monitor.accounts.users import Role
from cell_monitor.config import Settings
from cell_monitor.storage.engine import create_engine
from tests.dashboard_client import dashboard
from tests.integration.test_health_metrics import value
from tests.integration.test_route_protection import assert_socket_refused
from tests.support import TEST_ADMIN_PASSWORD, event, live_server, query_sql, sign_in

FORM = {"username": "admin", "password": TEST_ADMIN_PASSWORD}


async def test_form_login_sets_a_safe_cookie_and_goes_to_next(
    anonymous: httpx.AsyncClient,
) -> None:
    page = await anonymous.get("/login", params={"next": "/api/v1/stats"})
    assert page.status_code == 200
    assert 'name="next" value="/api/v1/stats"' in page.text
    # No inline script or style: the page works under `default-src 'self'`.
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/login/login.js" defer>']
    assert "style=" not in page.text
    assert (await anonymous.get("/login/login.css")).headers["content-type"].startswith("text/css")
    script = await anonymous.get("/login/login.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "location.hash" in script.text

    wrong = await anonymous.post("/login", data={**FORM, "password": "not-the-password"})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert COOKIE_NAME not in wrong.cookies

    response = await anonymous.post("/login", data={**FORM, "next": "/api/v1/stats"})
    assert response.status_code == 303
    assert response.headers["location"] == "/api/v1/stats"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    stats = await anonymous.get("/api/v1/stats")  # the client's jar holds the cookie
    assert stats.status_code == 200
    # Signed in already: the login page goes straight on.
    again = await anonymous.get("/login", params={"next": "/api/v1/stats"})
    assert again.status_code == 303 and again.headers["location"] == "/api/v1/stats"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"&".join(b"f%d=1" % i for i in range(50)), "application/x-www-form-urlencoded"),
        (b"username=admin&password=" + b"x" * 100_000, "application/x-www-form-urlencoded"),
        (b"[1, 2]", "application/json"),
        (b'{"username": ["admin"], "password": {"a": 1}}', "application/json"),
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00", "application/x-www-form-urlencoded"),
    ],
)
async def test_odd_login_bodies_are_refused_cleanly(
    anonymous: httpx.AsyncClient, body: bytes, content_type: str
) -> None:
    response = await anonymous.post("/login", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "dashboard", ""]
)
async def test_next_outside_this_site_is_replaced(
    anonymous: httpx.AsyncClient, target: str
) -> None:
    response = await anonymous.post("/login", data={**FORM, "next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"


async def test_secure_cookie_when_configured(settings: Settings) -> None:
    secure = settings.model_copy(update={"secure_cookies": True})
    async with live_server(secure) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/login", json=FORM)
        assert "Secure" in response.headers["set-cookie"]


async def test_logout_password_change_and_deletion_end_sessions(
    settings: Settings, anonymous: httpx.AsyncClient
) -> None:
    engine = create_engine(settings)
    try:
        await users.create_user(engine, "grace", "grace-password-1", Role.instructor)
        grace = {"username": "grace", "password": "grace-password-1"}
        base = str(anonymous.base_url)

        first = await sign_in(base, **grace)
        assert (await anonymous.get("/api/v1/stats", headers=first)).status_code == 200
        logout = await anonymous.post("/logout", headers=first)
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert (await anonymous.get("/api/v1/stats", headers=first)).status_code == 401

        second = await sign_in(base, **grace)
        await users.set_password(engine, "grace", "grace-password-2")
        assert (await anonymous.get("/api/v1/stats", headers=second)).status_code == 401

        third = await sign_in(base, username="grace", password="grace-password-2")
        await users.delete_user(engine, "grace")
        assert (await anonymous.get("/api/v1/stats", headers=third)).status_code == 401
        with pytest.raises(users.AccountError, match="last admin"):
            await users.delete_user(engine, "admin")
    finally:
        await engine.dispose()


async def test_cross_site_posts_are_refused(
    server: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    await client.post("/api/v1/events", json=[event(eventType="help")])
    dismiss = "/api/v1/students/ada@example.org/help/dismiss"
    # A page of another site (even one on the CORS allow-list) cannot act.
    for origin in ("http://evil.example", "http://localhost:8888", "null"):
        refused = await client.post(dismiss, headers={"Origin": origin})
        assert refused.status_code == 403, origin
    done = await client.post(dismiss, headers={"Origin": server})
    assert done.status_code == 200
    # Who did what, and when, is recorded.
    statement = "SELECT action, actor FROM instructor_actions"
    rows = await asyncio.to_thread(query_sql, settings.database_url or "", statement)
    assert rows == [("dismiss_help", "admin")]
    # Login CSRF: a foreign page cannot sign the browser in either.
    foreign = await client.post("/login", data=FORM, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403


@pytest.mark.parametrize("trusted", [[], ["10.0.0.0/8"], ["127.0.0.1"]])
async def test_forwarded_host_names_the_server_only_from_a_trusted_proxy(
    settings: Settings, trusted: list[str]
) -> None:
    """A page of evil.example that also sends X-Forwarded-Host: evil.example."""
    behind = settings.model_copy(update={"trusted_proxies": trusted})
    forged = {"Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}
    async with live_server(behind) as base:
        headers = await sign_in(base)
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            await http.post("/api/v1/events", json=[event(eventType="help")])
            answer = await http.post(
                "/api/v1/students/ada@example.org/help/dismiss", headers=forged
            )
        if "127.0.0.1" in trusted:  # the test is the proxy: its word names the server
            assert answer.status_code == 200
            async with dashboard(base, {**headers, **forged}) as board:
                assert board.of_type("snapshot")
        else:  # from anyone else the header counts for nothing
            assert answer.status_code == 403
            await assert_socket_refused(
                base + "/ws/dashboard",
                4403,
                {**headers, "X-Forwarded-Host": "evil.example"},
                origin="http://evil.example",
            )


async def test_failed_logins_are_rate_limited_per_account_and_address(
    settings: Settings,
) -> None:
    tight = settings.model_copy(
        update={"login_attempts_per_account": 3, "login_attempts_per_ip": 5}
    )
    async with live_server(tight) as url, httpx.AsyncClient(base_url=url) as http:
        for _ in range(3):
            assert (
                await http.post("/login", json={**FORM, "password": "nope-nope"})
            ).status_code == 401
        blocked = await http.post("/login", json=FORM)  # even the right password waits
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        # Other accounts from the same address: until the address's own limit
        # (5 here; every attempt but a successful one counts, the blocked one too).
        statuses = [
            (
                await http.post("/login", json={"username": f"u{i}", "password": "x" * 12})
            ).status_code
            for i in range(3)
        ]
        assert statuses == [401, 429, 429]
        metrics_text = (await http.get("/metrics")).text
        assert value(metrics_text, "logins_total", outcome="rate_limited") >= 2
        assert value(metrics_text, "rate_limited_total", limit="login") >= 2


async def test_successful_logins_do_not_use_up_the_limit(settings: Settings) -> None:
    tight = settings.model_copy(update={"login_attempts_per_account": 2})
    async with live_server(tight) as url:
        for _ in range(5):
            await sign_in(url)


async def test_websocket_checks_session_and_origin(server: str, settings: Settings) -> None:
    headers = await sign_in(server)
    await assert_socket_refused(server + "/ws/dashboard", 4401)
    await assert_socket_refused(
        server + "/ws/dashboard", 4403, headers, origin="http://evil.example"
    )
    # The server's own pages may open it; the students' JupyterLab origins (the
    # CORS allow-list, where student code runs) may not.
    async with dashboard(server, {**headers, "Origin": server}) as board:
        assert board.of_type("snapshot")
    await assert_socket_refused(
        server + "/ws/dashboard", 4403, headers, origin=settings.cors_origins[0]
    )


async def test_websocket_connections_per_user_are_limited(settings: Settings) -> None:
    tight = settings.model_copy(update={"ws_connections_per_user": 2})
    async with live_server(tight) as url:
        headers = await sign_in(url)
        async with dashboard(url, headers), dashboard(url, headers):
            await assert_socket_refused(url + "/ws/dashboard", 4429, headers)
        # Closed ones give their slot back.
        async with dashboard(url, headers) as board:
            assert board.of_type("snapshot")


async def test_security_headers(anonymous: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/v1/stats", "/health"):
        response = await anonymous.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    docs = await anonymous.get("/docs")
    assert docs.status_code == 200
    # /docs loads Swagger UI from its CDN: its policy allows exactly that.
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


async def test_favicon_is_served_to_anyone_and_linked_from_the_login_page(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        icon = await client.get("/favicon.ico")
        login = await client.get("/login")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.lstrip().startswith(b"<svg")
    assert '<link rel="icon" href="/favicon.ico"' in login.text
