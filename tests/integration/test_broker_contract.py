"""One contract, every broker: the in-memory one and Redis (a private redis-server).

What the live service relies on: messages arrive in publish order; after a
gap (messages lost) the handler hears `None` before what follows, so receivers
resynchronise; what was published before stop() is not lost; check() raises
while the broker cannot deliver.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pytest

from cell_monitor.broker.base import Broker, Message
from cell_monitor.broker.memory import MemoryBroker
from tests.redis_support import RedisServer
from tests.support import eventually

_probes = count()


@dataclass
class Receiver:
    """A handler that records what it is given; `gate` cleared holds deliveries back."""

    batches: list[list[Message] | None] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def __call__(self, messages: Sequence[Message] | None) -> None:
        await self.gate.wait()
        self.batches.append(None if messages is None else list(messages))

    @property
    def messages(self) -> list[Message]:
        """Everything received but probes, in order."""
        return [m for batch in self.batches if batch for m in batch if "probe" not in m]

    def got(self, message: Message) -> bool:
        return any(batch and message in batch for batch in self.batches)


@dataclass
class Harness:
    kind: str
    new_broker: Callable[..., Broker]
    # Lose messages: for memory a full backlog, for Redis an outage of the server.
    cause_gap: Callable[[Broker, Receiver], Awaitable[None]]
    redis: RedisServer | None = None


async def ready(broker: Broker, receiver: Receiver) -> None:
    """Publish probes until one comes back: the broker delivers (Redis: subscribed)."""

    async def probe() -> bool:
        message = {"probe": next(_probes)}
        broker.publish([message])
        try:
            await eventually(lambda: receiver.got(message), timeout=0.5)
        except AssertionError:
            return False
        return True

    await eventually(probe, timeout=30, what="the broker to deliver")


async def backlog_overflow(broker: Broker, receiver: Receiver) -> None:
    receiver.gate.clear()  # the handler is busy: the bounded backlog fills up
    for n in range(20):
        broker.publish([{"lost?": n}])
    receiver.gate.set()


def redis_outage(redis: RedisServer) -> Callable[[Broker, Receiver], Awaitable[None]]:
    async def outage(broker: Broker, receiver: Receiver) -> None:
        redis.stop()
        await eventually(lambda: _fails(broker.check()), what="Redis to be seen down")
        for n in range(5):
            broker.publish([{"lost?": n}])
        redis.start()

    return outage


async def _fails(check: Awaitable[None]) -> bool:
    try:
        await check
    except Exception:
        return True
    return False


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield Harness("memory", lambda max_pending=4: MemoryBroker(max_pending), backlog_overflow)
        return
    from cell_monitor.broker.redis import RedisBroker

    redis = RedisServer(tmp_path)
    redis.start()
    channel = f"cell-monitor-contract-{uuid.uuid4().hex[:8]}"
    try:
        yield Harness(
            "redis",
            lambda max_pending=1000: RedisBroker(redis.url, channel, max_pending),
            redis_outage(redis),
            redis,
        )
    finally:
        redis.stop()


async def started(harness: Harness, **options: int) -> tuple[Broker, Receiver]:
    broker, receiver = harness.new_broker(**options), Receiver()
    await broker.start(receiver)
    await ready(broker, receiver)
    return broker, receiver


async def test_messages_arrive_in_publish_order(harness: Harness) -> None:
    broker, receiver = await started(harness, max_pending=1000)
    try:
        sent = [{"n": n} for n in range(60)]
        for start in range(0, len(sent), 6):
            broker.publish(sent[start : start + 6])
        await eventually(lambda: len(receiver.messages) == len(sent), what="all messages")
        assert receiver.messages == sent
        assert None not in receiver.batches  # no gap, no resynchronisation
    finally:
        await broker.stop()


async def test_a_gap_is_signalled_before_what_follows(harness: Harness) -> None:
    broker, receiver = await started(harness)
    try:
        await harness.cause_gap(broker, receiver)
        after = {"after": "the gap"}

        async def delivered_after_gap() -> bool:
            if not receiver.got(after):
                broker.publish([after])  # until the broker delivers again
                return False
            return True

        await eventually(delivered_after_gap, timeout=60, what="delivery after the gap")
        first_after = next(i for i, b in enumerate(receiver.batches) if b and after in b)
        assert None in receiver.batches[:first_after], "the receiver was not told to resync"
    finally:
        await broker.stop()


async def test_what_was_published_before_stop_is_not_lost(harness: Harness) -> None:
    broker, receiver = await started(harness, max_pending=1000)
    # Another worker's broker on the same channel (Redis); memory has only its own.
    listener, heard = broker, receiver
    if harness.kind == "redis":
        listener, heard = await started(harness)
    try:
        sent = [{"n": n} for n in range(200)]
        for message in sent:
            broker.publish([message])
        await broker.stop()
        await eventually(lambda: len(heard.messages) >= len(sent), what="every message")
        assert heard.messages == sent
    finally:
        if listener is not broker:
            await listener.stop()


async def test_health_check_fails_while_the_broker_cannot_deliver(harness: Harness) -> None:
    broker, _ = await started(harness)
    try:
        await broker.check()  # delivering now: no error
        if harness.redis is None:
            return  # the in-process broker has no service that could be down
        harness.redis.stop()
        await eventually(lambda: _fails(broker.check()), what="check() to fail")
        harness.redis.start()
        await eventually(lambda: _succeeds(broker.check()), timeout=30, what="check() to pass")
    finally:
        await broker.stop()


async def _succeeds(check: Awaitable[None]) -> bool:
    return not await _fails(check)
