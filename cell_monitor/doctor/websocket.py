"""WS /ws/dashboard: the handshake passes (proxies forward the upgrade) and a snapshot arrives."""

from __future__ import annotations

import asyncio
import json

from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok, skipped
from cell_monitor.doctor.options import DoctorOptions

NAME = "api.websocket"
PATH = "/ws/dashboard"
# Close codes and HTTP statuses meaning "log in first": the socket itself works.
AUTH_CLOSE_CODES = {1008, 4401, 4403}
AUTH_STATUSES = {401, 403}


async def check(options: DoctorOptions) -> CheckResult:
    try:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus
    except ImportError:
        return skipped(NAME, "the websockets library is not installed")
    url = "ws" + options.api_url.removeprefix("http") + PATH
    try:
        async with connect(url, open_timeout=options.check_timeout) as socket:
            first = json.loads(await asyncio.wait_for(socket.recv(), options.check_timeout))
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in AUTH_STATUSES:
            return skipped(NAME, f"{url} needs an instructor login ({status})")
        return found(NAME, _failed(url, f"the handshake was answered with HTTP {status}"))
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        if code in AUTH_CLOSE_CODES:
            # The upgrade went through (only an accepted socket can be closed
            # with a code): whatever is in between passes WebSockets.
            return ok(NAME, f"{url} upgrades; the feed needs an instructor login (close {code})")
        return found(NAME, _failed(url, f"closed before the snapshot ({code})"))
    except (OSError, asyncio.TimeoutError) as exc:
        if isinstance(exc, ConnectionRefusedError):
            return skipped(NAME, "the API does not answer (see api.unreachable)")
        return found(NAME, _failed(url, f"{type(exc).__name__}: {exc}"))
    if first.get("type") != "snapshot":
        return found(NAME, _failed(url, f"the first message was {first.get('type')!r}"))
    return ok(NAME, f"{url} sends the class snapshot ({len(first.get('students', []))} students)")


def _failed(url: str, why: str) -> Finding:
    return Finding(
        id="api.websocket_failed",
        urgency=Urgency.medium,
        title="The live dashboard's WebSocket does not work through this address",
        detail=f"{url}: {why}.",
        fix="A proxy or load balancer in front must pass the upgrade (nginx: "
        "`proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header "
        'Connection "upgrade";`) and keep idle connections open longer than the 30 s '
        "heartbeat (`proxy_read_timeout 120s;`); see docs/operations.md.",
    )
