"""The in-process broker: one worker, no service to run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from cell_monitor import metrics
from cell_monitor.broker.base import Message, MessageHandler

log = logging.getLogger(__name__)


class MemoryBroker:
    name = ""
    local_only = True

    def __init__(self, max_pending: int = 10_000) -> None:
        self._queue: asyncio.Queue[Sequence[Message]] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None
        self._gap = False

    async def start(self, handler: MessageHandler) -> None:
        self._task = asyncio.create_task(self._deliver(handler), name="cell-monitor-broker")

    async def stop(self) -> None:
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def publish(self, messages: Sequence[Message]) -> None:
        try:
            self._queue.put_nowait(messages)
        except asyncio.QueueFull:
            # Dashboards resynchronise on the gap; ingest never waits for them.
            metrics.BROKER_DROPPED.inc(len(messages))
            self._gap = True

    async def check(self) -> None:
        return None

    async def _deliver(self, handler: MessageHandler) -> None:
        while True:
            messages = await self._queue.get()
            try:
                if self._gap:
                    self._gap = False
                    await handler(None)
                await handler(messages)
            except Exception:
                log.exception("Delivering %d live messages failed", len(messages))
            finally:
                self._queue.task_done()
