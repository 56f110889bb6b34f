"""The broker interface: publish messages, deliver every message to one handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

Message = dict[str, Any]
# Called with messages published by any worker (this one included), and with
# `None` after a gap in delivery (reconnect): the receiver must resynchronise.
MessageHandler = Callable[[Sequence[Message] | None], Awaitable[None]]


class Broker(Protocol):
    name: str  # the service name in /health, or "" when there is nothing to check
    # True when what is published reaches this worker only (no other process listens).
    local_only: bool

    async def start(self, handler: MessageHandler) -> None:
        """Connect and start delivering to `handler`."""

    async def stop(self) -> None:
        """Deliver what is pending, disconnect."""

    def publish(self, messages: Sequence[Message]) -> None:
        """Queue messages for every worker; never blocks, never raises."""

    async def check(self) -> None:
        """Raise when the broker cannot deliver (health check)."""
