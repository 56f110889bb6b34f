"""A test dashboard: a real WebSocket client that records what /ws/dashboard sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import sign_in

Message = dict[str, Any]


class Dashboard:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.messages: list[Message] = []  # batches unpacked
        self.frames = 0
        self.closed = asyncio.Event()
        self._arrived = asyncio.Condition()

    async def _reader(self) -> None:
        try:
            async for raw in self.connection:
                message = json.loads(raw)
                self.frames += 1
                async with self._arrived:
                    if message["type"] == "batch":
                        self.messages.extend(message["messages"])
                    else:
                        self.messages.append(message)
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 10) -> Message:
        """The first message (already received or coming) that satisfies `predicate`."""

        async def scan() -> Message:
            seen = 0
            async with self._arrived:
                while True:
                    for message in self.messages[seen:]:
                        if predicate(message):
                            return message
                    seen = len(self.messages)
                    if self.closed.is_set():
                        raise ConnectionError("dashboard connection closed")
                    await self._arrived.wait()

        return await asyncio.wait_for(scan(), timeout)

    def of_type(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m["type"] == kind]

    def alerts(self) -> list[tuple[str, str, str]]:
        return [
            (m["alert"]["kind"], m["alert"]["action"], m["alert"]["student"])
            for m in self.of_type("alert")
        ]

    async def send(self, message: Message) -> None:
        await self.connection.send(json.dumps(message))


@asynccontextmanager
async def dashboard(
    base_url: str, headers: dict[str, str] | None = None, **params: str
) -> AsyncIterator[Dashboard]:
    """Connect to /ws/dashboard of `base_url` and wait for the first snapshot.

    `headers`: those of a signed-in instructor (tests.support.sign_in); by
    default the test admin signs in first.
    """
    if headers is None:
        headers = await sign_in(base_url)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = base_url.replace("http://", "ws://") + "/ws/dashboard" + (f"?{query}" if query else "")
    async with connect(url, additional_headers=headers) as connection:
        client = Dashboard(connection)
        reader = asyncio.create_task(client._reader())
        try:
            await client.wait_for(lambda m: m["type"] == "snapshot")
            yield client
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


def is_alert(kind: str, action: str, student: str) -> Callable[[Message], bool]:
    return lambda m: (
        m["type"] == "alert"
        and (
            m["alert"]["kind"],
            m["alert"]["action"],
            m["alert"]["student"],
        )
        == (kind, action, student)
    )


def is_event(event_id: str) -> Callable[[Message], bool]:
    return lambda m: m["type"] == "event" and m["event"]["eventId"] == event_id
