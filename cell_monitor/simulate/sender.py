"""Delivers simulated events to POST /api/v1/events the way a well-behaved client does:
batches, eventIds (so a retry is harmless), retries on 503/429 honouring Retry-After."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from cell_monitor.backoff import Backoff

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/events"


class DeliveryRefused(RuntimeError):
    """The server refuses our events for good (wrong token, wrong URL): stop the run."""


@dataclass
class SendStats:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    requests: int = 0
    # eventType/errorName → count of what was handed to the server.
    by_type: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None


class Sender:
    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        batch_size: int = 200,
        flush_seconds: float = 0.5,
        concurrency: int = 4,
        max_backoff: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": "cell-monitor-simulate"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=server.rstrip("/"), headers=headers, timeout=30, transport=transport
        )
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.max_backoff = max_backoff
        self.stats = SendStats()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    def emit(self, event: dict[str, Any]) -> None:
        kind = event["eventType"]
        self.stats.by_type[kind] = self.stats.by_type.get(kind, 0) + 1
        self._queue.put_nowait(event)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def check_server(self) -> dict[str, Any]:
        """GET /health: fail early with a readable message when nothing answers."""
        response = await self._http.get("/health")
        return dict(response.json())

    async def run(self, stop: asyncio.Event) -> None:
        """Send batches until `stop` is set and everything emitted has been delivered."""
        while not (stop.is_set() and self._queue.empty()):
            if self._failure is not None:
                raise self._failure
            batch = await self._next_batch(stop)
            if batch:
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver(batch), name="simulate-post")
                self._inflight.add(task)
                task.add_done_callback(self._done)
        if self._inflight:
            await asyncio.gather(*self._inflight)
        if self._failure is not None:
            raise self._failure

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()

    async def _next_batch(self, stop: asyncio.Event) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_seconds
        while len(batch) < self.batch_size:
            timeout = deadline - loop.time()
            if timeout <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout))
            except asyncio.TimeoutError:
                break
            if stop.is_set() and self._queue.empty():
                break
        return batch

    async def _deliver(self, batch: list[dict[str, Any]]) -> None:
        backoff = Backoff(0.5, self.max_backoff)
        while True:
            self.stats.requests += 1
            try:
                response = await self._http.post(INGEST_PATH, json=batch)
            except httpx.TransportError as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                retry_after = None
            else:
                if response.status_code in (200, 202):
                    self._count(batch, response.json())
                    return
                if response.status_code in (401, 403, 404):
                    raise DeliveryRefused(
                        f"{response.request.url} answered {response.status_code}: "
                        f"{response.text[:200]} (check --server and --token)"
                    )
                if response.status_code not in (429, 502, 503, 504):
                    # 413/422: nothing in this batch is usable; resending cannot help.
                    self.stats.rejected += len(batch)
                    self.stats.last_error = f"{response.status_code}: {response.text[:200]}"
                    return
                self.stats.last_error = f"{response.status_code} (server busy)"
                retry_after = _retry_after(response)
            self.stats.retries += 1
            await asyncio.sleep(backoff.next(at_least=retry_after))

    def _count(self, batch: list[dict[str, Any]], body: dict[str, Any]) -> None:
        self.stats.sent += len(batch)
        self.stats.accepted += int(body.get("accepted", 0))
        self.stats.duplicates += int(body.get("duplicates", 0))
        rejected = body.get("rejected") or []
        self.stats.rejected += len(rejected)
        if rejected:
            self.stats.last_error = f"rejected: {rejected[0].get('errors')}"

    async def aclose(self) -> None:
        await self._http.aclose()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
