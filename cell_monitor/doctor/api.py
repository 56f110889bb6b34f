"""The API: the guide's `curl /health`, and CORS for the JupyterLab origin."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok, skipped
from cell_monitor.doctor.options import DoctorOptions

INGEST_PATH = "/api/v1/events"


async def check(options: DoctorOptions) -> CheckResult:
    url = f"{options.api_url}/health"
    try:
        async with httpx.AsyncClient(timeout=options.check_timeout) as http:
            response = await http.get(url)
    except httpx.HTTPError as exc:
        return found("api", _unreachable(options.api_url, exc))
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "services" not in body:
        return found("api", _not_ours(options.api_url, response))
    services = body.get("services") or {}
    if response.status_code != 200:
        return found("api", _unhealthy(options.api_url, services))
    listed = ", ".join(f"{name} {state}" for name, state in services.items())
    return ok("api", f"{url} healthy (version {body.get('version', '?')}; {listed})")


def _unreachable(api_url: str, exc: Exception) -> Finding:
    return Finding(
        id="api.unreachable",
        urgency=Urgency.high,
        title="The cell-monitor API does not answer",
        detail=f"{api_url}: {exc or type(exc).__name__}",
        fix="Start it (`cell-monitor serve`, or `docker compose up -d fastapi`), read its log "
        "(`docker compose logs --tail=50 fastapi`), and check the port (`ss -tlnp | grep "
        "8000`); give the right address with `cell-monitor doctor --server URL`.",
    )


def _not_ours(api_url: str, response: httpx.Response) -> Finding:
    return Finding(
        id="api.not_cell_monitor",
        urgency=Urgency.high,
        title="Something else answers at the API address",
        detail=f"{api_url}/health answered {response.status_code} without a services list.",
        fix="Check the address (`--server URL`, CELL_MONITOR_PORT) and what listens there "
        "(`sudo lsof -i :8000`).",
    )


def _unhealthy(api_url: str, services: dict[str, str]) -> Finding:
    broken = {name: state for name, state in services.items() if state != "healthy"}
    return Finding(
        id="api.unhealthy",
        urgency=Urgency.high,
        title="The API reports unhealthy services: " + ", ".join(broken),
        detail="\n".join(f"{name}: {state}" for name, state in broken.items()),
        fix="See the findings of the same services above (database, redis, influx); "
        "`docker compose logs --tail=50 fastapi` shows the workers' view.",
    )


async def check_cors(options: DoctorOptions) -> CheckResult:
    origins = [_origin(value) for value in options.jupyter_origins]
    if not origins:
        # Importing jupyter_server takes seconds: off the loop, or every other check waits.
        origins = await asyncio.to_thread(_running_jupyter_origins)
    if not origins:
        return skipped("api.cors", "no JupyterLab origin (give --jupyter-origin URL)")
    missing, how = [], "the running API"
    try:
        async with httpx.AsyncClient(timeout=options.check_timeout) as http:
            for origin in origins:
                if not await _preflight_allows(http, options.api_url, origin):
                    missing.append(origin)
    except httpx.HTTPError:
        how = "the configuration (the API does not answer)"
        missing = [o for o in origins if o not in options.settings.cors_origins]
    if not missing:
        return ok("api.cors", f"CORS allows {', '.join(origins)} (checked against {how})")
    wanted = ",".join(dict.fromkeys([*options.settings.cors_origins, *missing]))
    if not options.direct_browser_clients:
        # The cell-monitor extension posts through its Jupyter server: no CORS involved.
        return ok(
            "api.cors",
            f"CORS does not allow {', '.join(missing)}: not needed by the cell-monitor "
            "extension, which sends through the Jupyter server (browser code posting "
            f"directly would need CELL_MONITOR_CORS_ORIGINS={wanted})",
        )
    return found(
        "api.cors",
        Finding(
            id="api.cors_origin_missing",
            urgency=Urgency.medium,
            title="CORS does not allow the JupyterLab origin " + ", ".join(missing),
            detail=f"Checked against {how}. Browser code at that origin cannot post events "
            "directly (cell-monitor's extension goes through the Jupyter server and does "
            "not need CORS).",
            fix=f"Set CELL_MONITOR_CORS_ORIGINS={wanted} and restart the server.",
        ),
    )


async def _preflight_allows(http: httpx.AsyncClient, api_url: str, origin: str) -> bool:
    response = await http.options(
        f"{api_url}{INGEST_PATH}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    allowed = response.headers.get("access-control-allow-origin")
    return response.status_code < 400 and allowed in (origin, "*")


def _origin(value: str) -> str:
    parts = urlsplit(value if "://" in value else f"http://{value}")
    return f"{parts.scheme}://{parts.netloc}"


def _running_jupyter_origins() -> list[str]:
    """Origins of Jupyter servers running on this machine (when jupyter_server is here)."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return []
    origins = []
    for info in list_running_servers():
        url = str(info.get("url") or "")
        if url:
            origins.append(_origin(url))
    return list(dict.fromkeys(origins))
