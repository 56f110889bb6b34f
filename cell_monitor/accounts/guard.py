"""The one permission check: every instructor route and socket depends on it.

Anonymous callers get what the dashboard page expects: an API call a 401,
a browser asking for an HTML page a 303 to /login?next=…, a WebSocket an
accepted connection closed at once with 4401 (a browser cannot read the status
of a refused handshake). State-changing requests must come from the server's
own pages (Origin check, on top of the SameSite=Lax cookie), and so must a
WebSocket (cross-site WebSocket hijacking).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, WebSocket, WebSocketException
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from cell_monitor.accounts.sessions import COOKIE_NAME, session_user
from cell_monitor.accounts.users import HUB_PREFIX, Instructor, end_hub_sessions, hub_account
from cell_monitor.deps import app_part

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WS_UNAUTHENTICATED = 4401
WS_FORBIDDEN = 4403
WS_TOO_MANY = 4429


class LoginRequired(Exception):
    """No valid session on a request that needs one."""


def same_origin(connection: HTTPConnection) -> bool:
    """True when the request's Origin (if any) is this server itself.

    Browsers send Origin on every cross-origin request and on same-origin
    POSTs; a request without one comes from a program, which holds no
    victim's cookie and so is no forgery.
    """
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc.lower()
    if not netloc:
        return False  # "null" (sandboxed frames, file: pages)
    # X-Forwarded-Host reaches here only from a trusted proxy (server/middleware.py).
    hosts = {connection.headers.get("host", ""), connection.headers.get("x-forwarded-host", "")}
    return netloc in {h.lower() for h in hosts if h}


def ws_origin_allowed(websocket: WebSocket) -> bool:
    # Only the server's own dashboard page: the CORS allow-list names the
    # students' JupyterLab origins, where student code runs, and those must
    # never read the class feed with an instructor's cookie.
    return same_origin(websocket)


async def current_instructor(connection: HTTPConnection) -> Instructor | None:
    """The signed-in account of this request, if any."""
    token = connection.cookies.get(COOKIE_NAME)
    if not token:
        return None
    engine = app_part(connection, "engine")
    instructor = await session_user(engine, token)
    hub = app_part(connection, "hub")
    if instructor is None or hub is None or not instructor.username.startswith(HUB_PREFIX):
        return instructor
    return await _still_allowed(engine, hub, instructor)


async def _still_allowed(
    engine: AsyncEngine, hub: Any, instructor: Instructor
) -> Instructor | None:
    """A hub account's session holds while the hub's groups still make them staff."""
    name = instructor.username[len(HUB_PREFIX) :]
    role = await hub.current_role(name, instructor.role)
    if role is None:
        await end_hub_sessions(engine, name)
        return None
    if role is not instructor.role:
        return await hub_account(engine, name, role)
    return instructor


async def require_instructor(connection: HTTPConnection) -> Instructor:
    """The signed-in instructor, or the refusal the caller expects."""
    if connection.scope["type"] == "websocket":
        return await _require_on_socket(connection)  # type: ignore[arg-type]
    instructor = await current_instructor(connection)
    if instructor is None:
        raise LoginRequired
    if connection.scope["method"] not in SAFE_METHODS and not same_origin(connection):
        raise HTTPException(403, "cross-site request refused (Origin is not this server)")
    return instructor


async def _require_on_socket(websocket: WebSocket) -> Instructor:
    if not ws_origin_allowed(websocket):
        await websocket.accept()
        raise WebSocketException(WS_FORBIDDEN, "origin not allowed")
    instructor = await current_instructor(websocket)
    if instructor is None:
        await websocket.accept()
        raise WebSocketException(WS_UNAUTHENTICATED, "sign in at /login")
    return instructor


InstructorDep = Annotated[Instructor, Depends(require_instructor)]


def wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """401 for API calls; a redirect to the login page for a browser's page load."""
    if wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    return JSONResponse({"detail": "authentication required: sign in at /login"}, status_code=401)


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """A same-site relative path to go to after login; anything else gives `default`."""
    if not value or len(value) > 2048 or not value.startswith("/"):
        return default
    if value.startswith(("//", "/\\")) or any(ord(c) < 0x20 or c == "\\" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
