"""GET/POST /login, POST /logout and GET /api/v1/me: the instructor's session cookie.

The page is plain HTML and works without JavaScript (its one script only keeps
a bookmark's #fragment); scripts may POST JSON instead of the form and get JSON back.
"""

from __future__ import annotations

import functools
import html
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor import metrics
from cell_monitor.accounts import users
from cell_monitor.accounts.guard import InstructorDep, current_instructor, safe_next, same_origin
from cell_monitor.accounts.ratelimit import Limits, retry_after_header
from cell_monitor.accounts.sessions import COOKIE_NAME, end_session, start_session
from cell_monitor.config import Settings
from cell_monitor.contract.reads import AccountOut
from cell_monitor.deps import EngineDep, SettingsDep, app_part
from cell_monitor.pages import PAGES_DIR, STATIC_DIR

log = logging.getLogger(__name__)
router = APIRouter(tags=["login"])
# Only for signed-in instructors (server/app.py protects it).
account_router = APIRouter(prefix="/api/v1", tags=["dashboard"])
_FAVICON = STATIC_DIR / "favicon.svg"
_MAX_FORM_BYTES = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store"}


@functools.cache
def _template() -> str:
    return (PAGES_DIR / "login.html").read_text(encoding="utf-8")


def _hub_block(next_: str, hub: bool) -> str:
    """The "Sign in with JupyterHub" button, when the server is a hub service."""
    if not hub:
        return ""
    href = html.escape("/login/hub?" + urlencode({"next": next_}), quote=True)
    return (
        f'<a class="hub" href="{href}">Sign in with JupyterHub</a>'
        '<p class="or">or with a cell-monitor account:</p>'
    )


def _page(
    next_: str, username: str = "", message: str = "", status: int = 200, hub: bool = False
) -> HTMLResponse:
    block = f'<p class="message" role="alert">{html.escape(message)}</p>' if message else ""
    body = _template().format(
        next=html.escape(next_, quote=True),
        username=html.escape(username, quote=True),
        message=block,
        hub=_hub_block(next_, hub),
    )
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (straight to `next` when already signed in)."""
    target = safe_next(next)
    if await current_instructor(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _page(target, hub=_hub_sign_in(request))


def _hub_sign_in(request: Request) -> bool:
    settings: Settings = app_part(request, "settings")
    return app_part(request, "hub") is not None and settings.hub_sign_in


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> FileResponse:
    """The icon browsers ask every page's site for (public: the login page shows it too)."""
    return FileResponse(
        _FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/login/login.css", include_in_schema=False)
async def login_css() -> FileResponse:
    """The sign-in page's style sheet (public: it is needed before signing in)."""
    return FileResponse(PAGES_DIR / "login.css", media_type="text/css")


@router.get("/login/login.js", include_in_schema=False)
async def login_js() -> FileResponse:
    """The sign-in page's script (a file: the CSP allows no inline script).

    It keeps a bookmarked view's #fragment through the sign-in.
    """
    return FileResponse(STATIC_DIR / "js" / "login.js", media_type="text/javascript")


async def _credentials(request: Request) -> tuple[dict[str, Any], bool]:
    """(fields, whether the caller sent JSON) from a form or a JSON body."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return {}, False
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            return {}, True
        return (data if isinstance(data, dict) else {}), True
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # more fields than a login form has
        return {}, False
    return {key: values[0] for key, values in fields.items()}, False


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ""


@router.post("/login", include_in_schema=False)
async def login(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """Check the credentials; on success set the session cookie."""
    fields, as_json = await _credentials(request)
    username, password = _text(fields, "username").strip()[:128], _text(fields, "password")
    target = safe_next(_text(fields, "next"))
    if not same_origin(request):
        return _refuse(as_json, target, username, 403, "Sign in from this server's own page.")
    if not username or not password:
        return _refuse(as_json, target, username, 400, "Enter a username and a password.")
    client = request.client.host if request.client else "unknown"
    limits: Limits = app_part(request, "limits")
    wait = max(limits.login_ip.acquire(client), limits.login_account.acquire(username.lower()))
    if wait > 0:
        metrics.LOGINS.labels("rate_limited").inc()
        metrics.RATE_LIMITED.labels("login").inc()
        response = _refuse(as_json, target, username, 429, "Too many attempts; wait and retry.")
        response.headers["Retry-After"] = retry_after_header(wait)
        return response
    instructor = await users.authenticate(engine, username, password)
    if instructor is None:
        metrics.LOGINS.labels("failure").inc()
        log.warning("Failed login", extra={"username": username, "client": client})
        return _refuse(as_json, target, username, 401, "Wrong username or password.")
    limits.login_ip.refund(client)
    limits.login_account.refund(username.lower())
    metrics.LOGINS.labels("success").inc()
    log.info("Login", extra={"username": instructor.username, "client": client})
    return await _signed_in(request, engine, settings, instructor, target, as_json)


async def _signed_in(
    request: Request,
    engine: AsyncEngine,
    settings: Settings,
    who: users.Instructor,
    target: str,
    as_json: bool,
) -> Response:
    token = await start_session(engine, who.id, settings.session_hours)
    response: Response
    if as_json:
        response = JSONResponse({"username": who.username, "role": who.role.value, "next": target})
    else:
        response = RedirectResponse(target, status_code=303)
    secure = settings.secure_cookies
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        secure=request.url.scheme == "https" if secure is None else secure,
        samesite="lax",
    )
    return response


def _refuse(as_json: bool, target: str, username: str, status: int, message: str) -> Response:
    if as_json:
        return JSONResponse({"detail": message}, status_code=status)
    return _page(target, username, message, status)


async def signed_in(
    request: Request, engine: AsyncEngine, settings: Settings, who: users.Instructor, target: str
) -> Response:
    """The session of a sign-in made elsewhere (JupyterHub): cookie and redirect."""
    return await _signed_in(request, engine, settings, who, target, as_json=False)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, engine: EngineDep) -> Response:
    """End the session (on every worker) and go back to the sign-in page."""
    if not same_origin(request):
        return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
    token = request.cookies.get(COOKIE_NAME)
    if token:
        await end_session(engine, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


@account_router.get("/me", response_model=AccountOut)
async def me(instructor: InstructorDep) -> AccountOut:
    """The signed-in instructor's account."""
    return AccountOut(username=instructor.username, role=str(instructor.role.value))
