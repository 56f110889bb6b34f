"""Request metrics as a plain ASGI middleware (no per-request task overhead)."""

from __future__ import annotations

import functools
import ipaddress
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cell_monitor import metrics


class MetricsMiddleware:
    """Times every HTTP request by route template and counts open connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        gauge = _gauge(kind)
        gauge.inc()
        status = {"code": 500}
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            gauge.dec()
            if kind == "http":
                _histogram(scope["method"], _route(scope), status["code"] // 100).observe(
                    time.perf_counter() - started
                )


# Looking up a labelled child costs more than observing it: keep them (the label
# sets are small and fixed: methods, route templates and status classes).
@functools.cache
def _histogram(method: str, route: str, status_class: int) -> Any:
    return metrics.REQUEST_DURATION.labels(method, route, f"{status_class}xx")


@functools.cache
def _gauge(kind: str) -> Any:
    return metrics.ACTIVE_CONNECTIONS.labels(kind)


def _route(scope: Scope) -> str:
    # The template (/api/v1/events), never the raw path: bounded label values.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


_MAX_REMEMBERED_PEERS = 4096


class ForwardedHostFilter:
    """Drops `X-Forwarded-Host` unless the peer is a trusted proxy (CELL_MONITOR_TRUSTED_PROXIES).

    The Origin check (accounts/guard.py) takes that header as a name of this
    server: from anyone else, a cross-site request could name its own origin
    there and pass. uvicorn's ProxyHeadersMiddleware only handles -For and
    -Proto, and replaces the peer's address: this runs before it, on the peer.
    """

    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app = app
        self._any = "*" in trusted
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._literals: set[str] = set()  # not an address (as uvicorn: e.g. a socket path)
        # Each peer's verdict, worked out once: parsing the address took longer
        # than the rest of this middleware. Bounded: a server talks to few peers
        # (its proxies, the class's Jupyter servers), but anyone may connect.
        self.trusts = functools.lru_cache(maxsize=_MAX_REMEMBERED_PEERS)(self._judge)
        for entry in trusted:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._literals.add(entry)

    def _judge(self, peer: str | None) -> bool:
        """Whether `peer` (the connection's address) is a trusted proxy."""
        if self._any or (peer is not None and peer in self._literals):
            return True
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if not self.trusts(client[0] if client else None):
                headers = [(k, v) for k, v in scope["headers"] if k != b"x-forwarded-host"]
                if len(headers) != len(scope["headers"]):
                    scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
