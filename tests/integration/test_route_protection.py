"""Every route of the app refuses anonymous callers unless it is explicitly public.

The walk covers whatever routers the app includes, so a route added later is
checked without anyone listing it here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cell_monitor.config import Settings
from cell_monitor.server.app import create_app
from tests.support import live_server, sign_in

# (method, path) pairs anyone may call: ingest (ingest tokens), the student's
# inbox (their hub token or credential, tests/integration/test_help_inbox.py),
# probes, metrics, the login pages (local and JupyterHub), and the API documentation.
PUBLIC = {
    ("POST", "/api/v1/events"),
    # A student's own inbox and messages: checked by their hub token or credential.
    ("GET", "/api/v1/student/inbox"),
    ("GET", "/api/v1/student/messages"),
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/login.css"),
    ("GET", "/login/login.js"),
    ("GET", "/favicon.ico"),
    # Sign-in through JupyterHub (404 unless the server is a hub service).
    ("GET", "/login/hub"),
    ("GET", "/login/hub/callback"),
    ("POST", "/logout"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}


def concrete(path: str) -> str:
    """A request path for a route template ({student} -> a value)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def flat_routes(routes: list[BaseRoute]) -> Iterator[tuple[BaseRoute, str]]:
    """(route, full path) of every route, through included routers of any FastAPI version."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: routes are copied
        for route in routes:
            yield route, str(getattr(route, "path", ""))
        return
    for context in iter_route_contexts(routes):
        yield context.original_route, str(context.path)


def endpoints(settings: Settings) -> tuple[list[tuple[str, str]], list[str]]:
    """(HTTP method and path, WebSocket paths) of every route the app serves."""
    http: list[tuple[str, str]] = []
    sockets: list[str] = []
    for route, path in flat_routes(create_app(settings).routes):
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                http.append((method, path))
        elif isinstance(route, WebSocketRoute):
            sockets.append(path)
        elif isinstance(route, Mount):
            http.append(("GET", path.rstrip("/") + "/"))
        else:
            raise AssertionError(f"unknown kind of route {route!r}: teach this test about it")
    return http, sockets


async def test_anonymous_callers_are_refused_everywhere_but_public_routes(
    settings: Settings,
) -> None:
    http_routes, socket_routes = endpoints(settings)
    protected = [r for r in http_routes if r not in PUBLIC]
    # The routes this walk must at least see (guards against walking nothing).
    assert {("GET", "/api/v1/events"), ("GET", "/api/v1/students")} <= set(protected)
    assert "/ws/dashboard" in socket_routes
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as anonymous:
        for method, path in protected:
            target = concrete(path)
            response = await anonymous.request(method, target, headers={"Accept": "*/*"})
            assert response.status_code == 401, (method, path, response.status_code)
            assert "login" in response.json()["detail"]
            if method == "GET":
                page = await anonymous.get(target, headers={"Accept": "text/html"})
                assert page.status_code == 303, (path, page.status_code)
                assert page.headers["location"].startswith("/login?next=/")
        for path in socket_routes:
            await assert_socket_refused(url + concrete(path), 4401)
        # And with a session, the same routes answer (no route refuses everyone).
        signed_in = httpx.AsyncClient(base_url=url, headers=await sign_in(url))
        async with signed_in:
            for method, path in protected:
                if method == "GET":
                    response = await signed_in.get(concrete(path))
                    assert response.status_code != 401, (method, path)


async def assert_socket_refused(
    http_url: str, code: int, headers: dict[str, str] | None = None, origin: str | None = None
) -> None:
    """The server accepts the socket, then closes it at once with `code`."""
    url = http_url.replace("http://", "ws://", 1)
    async with connect(url, additional_headers=headers, origin=origin) as connection:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed) as closed:
            await connection.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def test_next_is_kept_through_the_redirect(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get(
        "/api/v1/students", params={"team": "A"}, headers={"Accept": "text/html"}
    )
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/api/v1/students%3Fteam%3DA"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_walk_sees_routes_added_to_instructor_routers(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import APIRouter

    from cell_monitor.server import app as app_module

    extra = APIRouter()

    @extra.get("/api/v1/added-later")
    async def added_later() -> dict[str, str]:
        return {"secret": "class data"}

    monkeypatch.setattr(app_module, "INSTRUCTOR_ROUTERS", (*app_module.INSTRUCTOR_ROUTERS, extra))
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as anonymous:
        assert (await anonymous.get("/api/v1/added-later")).status_code == 401
        headers = await sign_in(url)
        signed = await anonymous.get("/api/v1/added-later", headers=headers)
        assert signed.json() == {"secret": "class data"}
