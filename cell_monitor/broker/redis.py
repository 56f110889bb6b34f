"""Redis pub/sub on the guide's `events` channel, between server workers.

Publishing never blocks ingest: messages go to a bounded queue that one task
sends in a pipeline. When Redis is away, messages are dropped (they are stored
in the database anyway), the subscriber reconnects with backoff, and receivers
are told to resynchronise from a fresh snapshot once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from cell_monitor import metrics
from cell_monitor.broker.base import Message, MessageHandler

log = logging.getLogger(__name__)

# The user's guide's client settings.
CLIENT_OPTIONS: dict[str, Any] = {
    "max_connections": 20,
    "retry_on_timeout": True,
    "health_check_interval": 30,
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
}


class RedisBroker:
    name = "redis"
    distributed = True

    def __init__(self, url: str, channel: str, max_pending: int = 10_000) -> None:
        self._redis: Redis = Redis.from_url(url, **CLIENT_OPTIONS)
        self._channel = channel
        self._outbox: asyncio.Queue[Sequence[Message]] = asyncio.Queue(max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()

    async def start(self, handler: MessageHandler) -> None:
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="cell-monitor-redis-publish"),
            asyncio.create_task(self._subscribe_loop(handler), name="cell-monitor-redis-sub"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()

    def publish(self, messages: Sequence[Message]) -> None:
        try:
            self._outbox.put_nowait(messages)
        except asyncio.QueueFull:
            metrics.BROKER_DROPPED.inc(len(messages))

    async def check(self) -> None:
        await asyncio.wait_for(self._redis.ping(), 5)

    async def _publish_loop(self) -> None:
        while True:
            # One Redis message per commit group; the groups that queued up
            # meanwhile go out in one pipelined round trip.
            groups = [await self._outbox.get()]
            while not self._outbox.empty() and len(groups) < 100:
                groups.append(self._outbox.get_nowait())
            count = sum(len(group) for group in groups)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for group in groups:
                        pipe.publish(self._channel, encode(group))
                    await pipe.execute()
                metrics.BROKER_PUBLISHED.inc(count)
            except (RedisError, OSError) as exc:
                metrics.BROKER_DROPPED.inc(count)
                log.warning("Publishing %d live messages to Redis failed: %s", count, exc)

    async def _subscribe_loop(self, handler: MessageHandler) -> None:
        delay = 0.5
        first = True
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.subscribed.set()
                metrics.BROKER_CONNECTED.set(1)
                if not first:
                    log.info("Redis subscription restored; dashboards resynchronise")
                    await handler(None)
                first, delay = False, 0.5
                await self._receive(pubsub, handler)
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                metrics.BROKER_CONNECTED.set(0)
                log.warning("Redis subscription lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 10.0)
            finally:
                await _close_quietly(pubsub)

    async def _receive(self, pubsub: PubSub, handler: MessageHandler) -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            batch = decode(message["data"])
            # Drain what is already buffered so the hub handles it in one pass.
            while (more := await pubsub.get_message(timeout=0)) is not None:
                if more.get("type") == "message":
                    batch.extend(decode(more["data"]))
            try:
                await handler(batch)
            except Exception:
                log.exception("Handling %d live messages failed", len(batch))


async def _close_quietly(pubsub: PubSub) -> None:
    with contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()


def encode(messages: Sequence[Message]) -> bytes:
    """One Redis message carries a JSON array of live messages."""
    return orjson.dumps(list(messages))


def decode(data: bytes) -> list[Message]:
    return list(orjson.loads(data))


async def publish_once(url: str, channel: str, messages: Sequence[Message]) -> int:
    """Publish from a process that runs no broker (the CLI); how many workers received it."""
    client: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        receivers: int = await client.publish(channel, encode(messages))
    finally:
        await client.aclose()
    return receivers
