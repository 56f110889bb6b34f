"""How uvicorn serves the app: bounded reads, keep-alive, and which proxies are believed.

uvicorn closes a connection that stays idle after a response
(`timeout_keep_alive`), but not one that sends half a request and then waits:
a few hundred of those (slowloris) hold every connection slot. The protocol
below gives every request a deadline from its first byte (or from the
connection's start) until its body is complete.

X-Forwarded-For / -Proto are believed only from CELL_MONITOR_TRUSTED_PROXIES:
the app adds uvicorn's ProxyHeadersMiddleware with that list itself, and
uvicorn's own proxy handling (which trusts FORWARDED_ALLOW_IPS) stays off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cell_monitor.config import Settings

log = logging.getLogger(__name__)

DEFAULT_READ_TIMEOUT = 30.0


class ServerConfig(uvicorn.Config):
    """uvicorn's Config plus the request read timeout (pickled to worker processes)."""

    def __init__(self, app: Any, *, request_read_timeout: float, **options: Any) -> None:
        super().__init__(app, **options)
        self.request_read_timeout = request_read_timeout


class BoundedReadProtocol(HttpToolsProtocol):
    """httptools' HTTP/1.1 protocol with a deadline for reading each request."""

    _read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_read_deadline()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_read_deadline()

    def handle_websocket_upgrade(self) -> None:
        # From here on the WebSocket protocol (with its pings) owns the connection.
        self._cancel_read_deadline()
        super().handle_websocket_upgrade()

    def _arm_read_deadline(self) -> None:
        self._cancel_read_deadline()
        timeout = getattr(self.config, "request_read_timeout", DEFAULT_READ_TIMEOUT)
        self._read_deadline = self.loop.call_later(timeout, self._read_timed_out)

    def _cancel_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            log.info("Closing a connection that did not send its request in time")
            self.transport.close()


def server_config(app: Any, settings: Settings, **options: Any) -> ServerConfig:
    """The uvicorn configuration `serve` (and the tests' servers) run the app with."""
    options.setdefault("host", settings.host)
    options.setdefault("port", settings.port)
    return ServerConfig(
        app,
        request_read_timeout=settings.request_timeout_seconds,
        http=BoundedReadProtocol,
        timeout_keep_alive=settings.keep_alive_seconds,
        proxy_headers=False,  # the app's ProxyHeadersMiddleware decides (trusted_proxies)
        log_config=None,
        **options,
    )
