"""This worker's dashboard connections and the fan-out of live messages to them.

Every connection has a bounded queue and its own sender: a dashboard that reads
slowly (or not at all) only fills its own queue; when it overflows, the queue is
emptied and that dashboard gets a fresh snapshot instead. Ingest and the other
dashboards never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from cell_monitor import metrics
from cell_monitor.contract.live import Snapshot, WireMessage, encode
from cell_monitor.live.messages import heartbeat, matches

log = logging.getLogger(__name__)

SnapshotBuilder = Callable[[str | None, str | None], Awaitable[Snapshot]]


class _Resync:
    """Queue marker: send a fresh snapshot here."""


RESYNC = _Resync()


@dataclass(frozen=True)
class Filters:
    team: str | None = None
    notebook: str | None = None


class DashboardConnection:
    def __init__(self, websocket: WebSocket, filters: Filters, queue_size: int) -> None:
        self.websocket = websocket
        self.filters = filters
        self.queue: asyncio.Queue[bytes | _Resync] = asyncio.Queue(queue_size)
        self.answered_heartbeat = False
        self.last_answer = asyncio.get_running_loop().time()

    def offer(self, encoded: Sequence[tuple[WireMessage, bytes]]) -> None:
        for message, data in encoded:
            if matches(message, self.filters.team, self.filters.notebook):
                self._put(data)

    def _put(self, item: bytes | _Resync) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.request_resync()

    def request_resync(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(RESYNC)


class Hub:
    def __init__(
        self,
        snapshot: SnapshotBuilder,
        *,
        queue_size: int,
        heartbeat_seconds: float,
        send_timeout: float,
    ) -> None:
        self._snapshot = snapshot
        self._queue_size = queue_size
        self._heartbeat_seconds = heartbeat_seconds
        self._send_timeout = send_timeout
        self.connections: set[DashboardConnection] = set()

    async def dispatch(self, messages: Sequence[WireMessage] | None) -> None:
        """Broker handler: fan messages out; `None` means resynchronise everyone."""
        if messages is None:
            for connection in self.connections:
                connection.request_resync()
            return
        if not self.connections:
            return
        encoded = [(m, orjson.dumps(m)) for m in messages]
        for connection in self.connections:
            connection.offer(encoded)

    def local(self, messages: Sequence[WireMessage]) -> None:
        """Send to this worker's dashboards only (e.g. students turning idle)."""
        encoded = [(m, orjson.dumps(m)) for m in messages]
        for connection in self.connections:
            connection.offer(encoded)

    async def serve(self, websocket: WebSocket, filters: Filters) -> None:
        """Run one dashboard connection until it closes."""
        connection = DashboardConnection(websocket, filters, self._queue_size)
        connection.queue.put_nowait(RESYNC)  # the first message is a snapshot
        self.connections.add(connection)
        tasks = [
            asyncio.create_task(self._send_loop(connection), name="dashboard-send"),
            asyncio.create_task(self._receive_loop(connection), name="dashboard-receive"),
            asyncio.create_task(self._heartbeat_loop(connection), name="dashboard-heartbeat"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.info("Dashboard connection ended: %r", task.exception())
        finally:
            self.connections.discard(connection)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close_all(self) -> None:
        for connection in list(self.connections):
            await _close(connection.websocket, 1001, "server shutting down")

    async def _send_loop(self, connection: DashboardConnection) -> None:
        while True:
            items = [await connection.queue.get()]
            while not connection.queue.empty():
                items.append(connection.queue.get_nowait())
            if any(isinstance(item, _Resync) for item in items):
                # Everything before the last resync is in the snapshot already.
                last = max(i for i, item in enumerate(items) if isinstance(item, _Resync))
                snapshot = await self._snapshot(
                    connection.filters.team, connection.filters.notebook
                )
                metrics.DASHBOARD_RESYNCS.inc()
                if not await self._send(connection, encode(snapshot), 1):
                    return
                items = items[last + 1 :]
            pending = [item for item in items if isinstance(item, bytes)]
            if pending and not await self._send(connection, _frame(pending), len(pending)):
                return

    async def _send(self, connection: DashboardConnection, data: bytes, count: int) -> bool:
        try:
            await asyncio.wait_for(
                connection.websocket.send_text(data.decode()), self._send_timeout
            )
        except TimeoutError:
            metrics.DASHBOARD_CLOSED.labels("send_timeout").inc()
            await _close(connection.websocket, 1008, "too slow to receive")
            return False
        metrics.DASHBOARD_MESSAGES.inc(count)
        return True

    async def _receive_loop(self, connection: DashboardConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                text = await connection.websocket.receive_text()
            except WebSocketDisconnect:
                return
            connection.last_answer = loop.time()
            kind = _message_type(text)
            if kind == "heartbeat_response":
                connection.answered_heartbeat = True
            elif kind == "resync":
                connection.request_resync()

    async def _heartbeat_loop(self, connection: DashboardConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            silent = loop.time() - connection.last_answer
            # Clients that answer heartbeats are expected to keep answering;
            # others are watched by WebSocket protocol pings (uvicorn).
            if connection.answered_heartbeat and silent > 2.5 * self._heartbeat_seconds:
                metrics.DASHBOARD_CLOSED.labels("heartbeat_timeout").inc()
                await _close(connection.websocket, 1001, "no heartbeat response")
                return
            connection._put(encode(heartbeat(datetime.now(timezone.utc))))


def _frame(encoded: list[bytes]) -> bytes:
    """One WebSocket frame: the message itself, or a batch of what queued up."""
    if len(encoded) == 1:
        return encoded[0]
    return b'{"type":"batch","messages":[' + b",".join(encoded) + b"]}"


def _message_type(text: str) -> Any:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return data.get("type") if isinstance(data, dict) else None


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    # Closing a connection whose peer stopped reading can wait forever.
    with contextlib.suppress(RuntimeError, OSError, TimeoutError):  # already closed
        await asyncio.wait_for(websocket.close(code, reason), 2)
