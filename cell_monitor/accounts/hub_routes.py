"""Instructor sign-in through JupyterHub: GET /login/hub and its OAuth callback.

The hub's OAuth for services (authorization code with PKCE), its steps made
by `jupyterhub.services.auth.HubOAuth`. The pending sign-in (state, PKCE
verifier, where to go next) is kept in a short-lived HttpOnly cookie rather
than in memory, so the callback works whichever worker answers it. A
successful sign-in opens the same server-side session as the local one, so
CSRF and WebSocket origin checks, logout and expiry behave alike.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cell_monitor import metrics
from cell_monitor.accounts import users as accounts
from cell_monitor.accounts.guard import safe_next
from cell_monitor.accounts.hub import CALLBACK_PATH, HubClient, HubUnavailable, role_of
from cell_monitor.accounts.routes import signed_in
from cell_monitor.config import Settings
from cell_monitor.deps import app_part
from cell_monitor.pages import PAGES_DIR

log = logging.getLogger(__name__)
router = APIRouter(tags=["login"])
STATE_COOKIE = "cell_monitor_hub_oauth"
_STATE_SECONDS = 600
_NO_STORE = {"Cache-Control": "no-store"}


@functools.cache
def _template() -> str:
    return (PAGES_DIR / "hub-denied.html").read_text(encoding="utf-8")


def _denied(status: int, message: str, detail: str) -> HTMLResponse:
    body = _template().format(message=html.escape(message), detail=html.escape(detail))
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


def _hub(request: Request) -> tuple[Settings, HubClient] | None:
    settings: Settings = app_part(request, "settings")
    hub: HubClient | None = app_part(request, "hub")
    if hub is None or not settings.hub_sign_in:
        return None
    return settings, hub


def _encode(pending: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(pending).encode()).decode()


def _decode(value: str | None) -> dict[str, Any]:
    if not value or len(value) > 4096:
        return {}
    try:
        pending = json.loads(base64.urlsafe_b64decode(value.encode()))
    except ValueError:
        return {}
    return pending if isinstance(pending, dict) else {}


@router.get("/login/hub", include_in_schema=False)
async def hub_login(request: Request, next: str | None = None) -> Response:
    """Send the browser to the hub's sign-in (the hub asks for a password if needed)."""
    found = _hub(request)
    if found is None:
        return _denied(404, "Sign-in through JupyterHub is not set up.", _NOT_SET_UP)
    settings, hub = found
    verifier, challenge = hub.new_challenge()
    oauth_state = secrets.token_urlsafe(24)
    response = RedirectResponse(hub.authorize_url(oauth_state, challenge), status_code=303)
    pending = {"state": oauth_state, "verifier": verifier, "next": safe_next(next)}
    secure = settings.secure_cookies
    response.set_cookie(
        STATE_COOKIE,
        _encode(pending),
        max_age=_STATE_SECONDS,
        path="/login/hub",
        httponly=True,
        secure=request.url.scheme == "https" if secure is None else secure,
        samesite="lax",  # the hub's redirect back is a top-level GET: the cookie is sent
    )
    return response


_NOT_SET_UP = (
    "This server is not a JupyterHub service with sign-in (CELL_MONITOR_HUB_API_URL, "
    "CELL_MONITOR_HUB_OAUTH_CALLBACK_URL): sign in with a cell-monitor account."
)


@router.get(CALLBACK_PATH, include_in_schema=False)
async def hub_callback(
    request: Request, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    """The hub sends the browser back here with a code: exchange it, check the groups, sign in."""
    found = _hub(request)
    if found is None:
        return _denied(404, "Sign-in through JupyterHub is not set up.", _NOT_SET_UP)
    settings, hub = found
    engine = app_part(request, "engine")
    pending = _decode(request.cookies.get(STATE_COOKIE))
    expected = pending.get("state")
    if error:
        metrics.HUB_LOGINS.labels("failure").inc()
        return _finish(_denied(403, "JupyterHub did not sign you in.", f"The hub said: {error}."))
    if (
        not code
        or not state
        or not isinstance(expected, str)
        or not secrets.compare_digest(state, expected)
    ):
        # No pending sign-in from this browser: a stale tab, or a forged callback.
        metrics.HUB_LOGINS.labels("failure").inc()
        return _finish(
            _denied(400, "This sign-in link has expired.", "Start again from the sign-in page.")
        )
    try:
        user = await hub.sign_in(code, str(pending.get("verifier") or ""))
    except HubUnavailable as exc:
        metrics.HUB_LOGINS.labels("failure").inc()
        log.warning("JupyterHub sign-in failed: %s", exc)
        return _finish(
            _denied(502, "JupyterHub could not complete the sign-in.", f"{exc}. Try again.")
        )
    if user is None:
        metrics.HUB_LOGINS.labels("failure").inc()
        return _finish(_denied(403, "JupyterHub did not sign you in.", "Try again."))
    role = role_of(user, settings)
    if role is None:
        metrics.HUB_LOGINS.labels("forbidden").inc()
        log.info("Hub user outside the instructor groups refused", extra={"username": user.name})
        await accounts.end_hub_sessions(engine, user.name)
        groups = " or ".join(
            f"“{g}”" for g in [*settings.hub_instructor_groups, *settings.hub_ta_groups]
        )
        return _finish(
            _denied(
                403,
                f"{user.name} is not an instructor or teaching assistant of this class.",
                f"The dashboard is open to JupyterHub admins and the members of the hub "
                f"group {groups}. Ask the hub's administrator to add you, then sign in again.",
            )
        )
    who = await accounts.hub_account(engine, user.name, role)
    metrics.HUB_LOGINS.labels("success").inc()
    log.info("Login through JupyterHub", extra={"username": who.username, "role": role.value})
    target = safe_next(str(pending.get("next") or ""))
    return _finish(await signed_in(request, engine, settings, who, target))


def _finish(response: Response) -> Response:
    """Every answer of the callback ends the pending sign-in (its state is single-use)."""
    response.delete_cookie(STATE_COOKIE, path="/login/hub", httponly=True, samesite="lax")
    return response
