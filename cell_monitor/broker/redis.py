"""Redis pub/sub on the guide's `events` channel, between server workers.

Publishing never blocks ingest: messages go to a bounded queue that one task
sends in a pipeline. When Redis is away, messages are dropped (they are stored
in the database anyway), the subscriber reconnects with backoff, and receivers
are told to resynchronise from a fresh snapshot once it is back.

A Redis that hangs (stopped, swapping, stuck on a slow command) refuses no
connection, so it is noticed by time: a publish that times out makes the
publisher wait until Redis answers a PING and then broadcast a resync request
to every worker; a subscription that hears nothing (not even the answer to its
own PING) within the timeout is treated as lost, reconnected and resynchronised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from cell_monitor import metrics
from cell_monitor.backoff import Backoff
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
DRAIN_SECONDS = 5.0


# Published after messages were lost: every worker's dashboards take a snapshot.
RESYNC_REQUEST: Message = {"type": "broker_resync"}
_LIVENESS_PING = "cell-monitor-liveness"


class SubscriptionStalled(RedisError):
    """Redis did not answer the subscription's PING within the timeout."""


class RedisBroker:
    name = "redis"
    local_only = False

    def __init__(
        self, url: str, channel: str, max_pending: int = 10_000, timeout: float = 5.0
    ) -> None:
        options = {**CLIENT_OPTIONS, "socket_timeout": timeout, "socket_connect_timeout": timeout}
        self._redis: Redis = Redis.from_url(url, **options)
        self._channel = channel
        self._timeout = timeout
        self._outbox: asyncio.Queue[Sequence[Message]] = asyncio.Queue(max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()

    async def start(self, handler: MessageHandler) -> None:
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="cell-monitor-redis-publish"),
            asyncio.create_task(self._subscribe_loop(handler), name="cell-monitor-redis-sub"),
        ]

    async def stop(self) -> None:
        # Publish what is queued first (for a few seconds at most: Redis may be away).
        if self._tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox.join(), DRAIN_SECONDS)
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
        await asyncio.wait_for(self._redis.ping(), self._timeout)

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
                await self._recover_publishing()
            finally:
                for _ in groups:
                    self._outbox.task_done()

    async def _recover_publishing(self) -> None:
        """Wait until Redis answers, then have every worker resynchronise.

        Whatever was queued meanwhile is dropped: the snapshots that the resync
        request triggers are built from the database and contain it.
        """
        backoff = Backoff(0.2, 5.0)
        while True:
            self._drop_outbox()
            try:
                await asyncio.wait_for(self._redis.ping(), self._timeout)
                self._drop_outbox()
                await asyncio.wait_for(
                    self._redis.publish(self._channel, encode([RESYNC_REQUEST])),
                    self._timeout,
                )
            except (RedisError, OSError, TimeoutError) as exc:
                log.debug("Redis still not answering the publisher: %s", exc)
                await asyncio.sleep(backoff.next())
                continue
            log.info("Redis answers again; every worker's dashboards resynchronise")
            return

    def _drop_outbox(self) -> None:
        while not self._outbox.empty():
            metrics.BROKER_DROPPED.inc(len(self._outbox.get_nowait()))
            self._outbox.task_done()

    async def _subscribe_loop(self, handler: MessageHandler) -> None:
        backoff = Backoff(0.5, 10.0)
        first = True
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                await self._confirm(pubsub)
                self.subscribed.set()
                metrics.BROKER_CONNECTED.set(1)
                if not first:
                    log.info("Redis subscription restored; dashboards resynchronise")
                    await handler(None)
                first = False
                backoff.reset()
                await self._receive(pubsub, handler)
            except (RedisError, OSError, TimeoutError) as exc:
                self.subscribed.clear()
                metrics.BROKER_CONNECTED.set(0)
                delay = backoff.next()
                log.warning("Redis subscription lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
            finally:
                await _close_quietly(pubsub)

    async def _confirm(self, pubsub: PubSub) -> None:
        """Wait for Redis to answer on the new subscription (a hung Redis accepts connects).

        Messages arriving before the answer are skipped: the resync that
        follows builds its snapshot from the database.
        """
        await pubsub.ping(_LIVENESS_PING)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while (left := deadline - loop.time()) > 0:
            message = await pubsub.get_message(timeout=left)
            if message is not None and message.get("type") == "pong":
                return
        raise SubscriptionStalled(f"Redis did not confirm the subscription in {self._timeout:.1f}s")

    async def _receive(self, pubsub: PubSub, handler: MessageHandler) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged: float | None = None
        while True:
            message = await pubsub.get_message(timeout=min(1.0, self._timeout))
            now = loop.time()
            if message is None:
                # Silence is normal in a quiet class; silence after our own PING is not.
                if pinged is not None and now - pinged > self._timeout:
                    raise SubscriptionStalled(f"no answer from Redis in {self._timeout:.1f}s")
                if pinged is None and now - heard > self._timeout:
                    await pubsub.ping(_LIVENESS_PING)
                    pinged = now
                continue
            heard, pinged = now, None
            if message.get("type") != "message":
                continue
            batch = decode(message["data"])
            # Drain what is already buffered so the hub handles it in one pass.
            while (more := await pubsub.get_message(timeout=0)) is not None:
                if more.get("type") == "message":
                    batch.extend(decode(more["data"]))
            await self._deliver(batch, handler)

    async def _deliver(self, batch: list[Message], handler: MessageHandler) -> None:
        live = [m for m in batch if m != RESYNC_REQUEST]
        try:
            if len(live) < len(batch):
                await handler(None)
            if live:
                await handler(live)
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
