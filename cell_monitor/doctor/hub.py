"""JupyterHub: the hub answers, the token is the service's, its scopes, the sign-in URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, skipped
from cell_monitor.doctor.options import DoctorOptions

NAME = "jupyterhub"
# What the service reads with its own token (docs/jupyterhub.md's role).
NEEDED_SCOPES = ("read:users:name", "read:users:groups")
CALLBACK_PATH = "/login/hub/callback"


async def check(options: DoctorOptions) -> CheckResult:
    settings = options.settings
    if not settings.hub_enabled:
        return skipped(NAME, "CELL_MONITOR_HUB_API_URL unset: not a JupyterHub service")
    try:
        from cell_monitor.accounts.hub import HubClient, HubUnavailable
    except ImportError:  # pragma: no cover - the hub extra is part of `all`
        return found(NAME, _not_installed())
    try:
        hub = HubClient(settings)
    except ImportError:
        return found(NAME, _not_installed())
    try:
        model = await hub.whoami()
    except HubUnavailable as exc:
        return found(NAME, _unreachable(settings.hub_api_url or "", str(exc)))
    if model is None:
        return found(NAME, _token_refused())
    if model.get("kind") != "service":
        return found(NAME, _not_a_service(model))
    findings = [*_scopes(model), *await _sign_in(options, hub.describe())]
    summary = (
        f"JupyterHub at {settings.hub_api_url} knows the token as service "
        f"{model.get('name')!r}"
        + ("; instructors can sign in through it" if settings.hub_sign_in else "")
    )
    return found(NAME, *findings, summary=summary, service=model.get("name"))


def _scopes(model: dict[str, Any]) -> list[Finding]:
    held = set(model.get("scopes") or ())
    missing = [scope for scope in NEEDED_SCOPES if not any(h.split("!")[0] == scope for h in held)]
    if not missing:
        return []
    return [
        Finding(
            id="jupyterhub.scopes_missing",
            urgency=Urgency.medium,
            title=f"The cell-monitor service lacks the scope(s) {', '.join(missing)}",
            detail="Without them a signed-in instructor's hub groups are not read again: "
            "someone removed from the instructor groups keeps the dashboard until the "
            "session ends.",
            fix="Give the service a role with these scopes in c.JupyterHub.load_roles "
            "(docs/jupyterhub.md) and restart the hub.",
        )
    ]


async def _sign_in(options: DoctorOptions, hub_url: str) -> list[Finding]:
    settings = options.settings
    callback = settings.hub_oauth_callback_url
    if not callback:
        return [
            Finding(
                id="jupyterhub.sign_in_off",
                urgency=Urgency.low,
                title="Instructors cannot sign in through JupyterHub",
                detail="CELL_MONITOR_HUB_OAUTH_CALLBACK_URL is unset: students are identified "
                "by the hub, instructors use local accounts.",
                fix="Set it to this server's public URL + /login/hub/callback, the same value "
                "as the service's oauth_redirect_uri in jupyterhub_config.py.",
            )
        ]
    findings: list[Finding] = []
    if urlsplit(callback).path != CALLBACK_PATH:
        findings.append(
            Finding(
                id="jupyterhub.callback_path",
                urgency=Urgency.high,
                title=f"The OAuth callback URL {callback} does not end in {CALLBACK_PATH}",
                detail="The hub sends instructors back to it after signing in; cell-monitor "
                f"answers only at {CALLBACK_PATH}.",
                fix=f"Set CELL_MONITOR_HUB_OAUTH_CALLBACK_URL (and the service's "
                f"oauth_redirect_uri) to this server's public URL + {CALLBACK_PATH}.",
            )
        )
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as http:
        if not findings and not await _is_cell_monitor(http, callback):
            findings.append(
                Finding(
                    id="jupyterhub.callback_unreachable",
                    urgency=Urgency.medium,
                    title=f"{callback} does not lead to this cell-monitor server",
                    detail="Instructors who sign in at the hub are sent there.",
                    fix="Use the address browsers reach this server at (behind a proxy: its "
                    "public https:// URL).",
                )
            )
        if not await _answers(http, hub_url + "api/"):
            findings.append(
                Finding(
                    id="jupyterhub.public_url",
                    urgency=Urgency.medium,
                    title=f"The hub's public address {hub_url} does not answer from here",
                    detail="Instructors are sent there to sign in.",
                    fix="Set CELL_MONITOR_HUB_PUBLIC_URL to the hub's address in browsers "
                    "(e.g. https://hub.school.example).",
                )
            )
    return findings


async def _is_cell_monitor(http: httpx.AsyncClient, callback: str) -> bool:
    try:
        response = await http.get(callback)
    except httpx.HTTPError:
        return False
    # A callback without a pending sign-in: cell-monitor's own "expired" page.
    return response.status_code in (400, 404) and "cell-monitor" in response.text


async def _answers(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


def _not_installed() -> Finding:
    return Finding(
        id="jupyterhub.not_installed",
        urgency=Urgency.high,
        title="Hub mode is configured but JupyterHub's client library is not installed",
        fix="pip install 'cell-monitor[hub]'",
    )


def _unreachable(url: str, reason: str) -> Finding:
    return Finding(
        id="jupyterhub.unreachable",
        urgency=Urgency.high,
        title=f"JupyterHub's API at {url} does not answer",
        detail=f"{reason}. Students whose tokens this server has not seen yet cannot "
        "report (their servers keep the events and retry); hub sign-in fails.",
        fix="Check CELL_MONITOR_HUB_API_URL (the hub's hub_bind_url + /hub/api, as reached "
        "from this server) and that the hub is running.",
    )


def _token_refused() -> Finding:
    return Finding(
        id="jupyterhub.token_invalid",
        urgency=Urgency.high,
        title="JupyterHub does not accept CELL_MONITOR_HUB_API_TOKEN",
        fix="Use the api_token of the cell-monitor service in jupyterhub_config.py "
        "(docs/jupyterhub.md), then restart the hub and this server.",
    )


def _not_a_service(model: dict[str, Any]) -> Finding:
    return Finding(
        id="jupyterhub.not_a_service",
        urgency=Urgency.high,
        title=f"CELL_MONITOR_HUB_API_TOKEN is the token of {model.get('kind')} "
        f"{model.get('name')!r}, not of a service",
        detail="A user's token would let the class server act as that user.",
        fix="Register cell-monitor in c.JupyterHub.services with its own api_token.",
    )
