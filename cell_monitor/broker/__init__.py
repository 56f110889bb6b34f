"""Message brokers carrying committed changes between server workers."""

from __future__ import annotations

from cell_monitor.broker.base import Broker, MessageHandler
from cell_monitor.config import Settings


def create_broker(settings: Settings, channel: str | None = None) -> Broker:
    """Redis pub/sub when REDIS_URL is set, else the in-process broker.

    `channel`: another channel than the live feed's (e.g. the students' inbox).
    """
    if settings.redis_url:
        from cell_monitor.broker.redis import RedisBroker

        return RedisBroker(
            settings.redis_url,
            channel or settings.redis_channel,
            timeout=settings.redis_timeout_seconds,
        )
    from cell_monitor.broker.memory import MemoryBroker

    return MemoryBroker()


__all__ = ["Broker", "MessageHandler", "create_broker"]
