"""Delivers the disk queue to the class server, for as long as it takes.

One background task sends the oldest events in batches to
`{server}/api/v1/events`. An event leaves the queue only when the class
server has answered for it: a 202 acknowledges every event of the batch
(accepted, duplicate, or rejected as invalid: resending cannot change the
verdict), and so does the server's own 422 "nothing in the body is usable".
Network errors, 5xx, 401/403, redirects and anything unexpected keep the
batch and retry with exponential backoff and jitter, with no retry limit: the
queue bound, not a retry count, decides when data is lost.

When the queue cannot delete acknowledged events (the student's disk is full),
their sequence numbers are kept in memory: they are never sent again, and their
deletion is retried before each batch, so a full disk cannot make the
forwarder resend the same batch in a loop.

Each failure is classified (DeliveryState) so that the student and the Jupyter
server log name the real cause: a refused token or a URL that is not a
cell-monitor server is a configuration error to fix now, not an outage to wait
out. The log says so once per change of state, not once per retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from cell_monitor.backoff import Backoff
from cell_monitor.contract.jupyter import DeliveryState as DeliveryState
from cell_monitor.jupyter_ext.disk_queue import DiskQueue, QueuedEvent, QueueUnwritable

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/events"


@dataclass(frozen=True)
class Target:
    """Where events go: the class server's base URL and the credential to send.

    `hub_token` (the single-user server's JUPYTERHUB_API_TOKEN) goes in
    JupyterHub's own scheme, `Authorization: token …`: the class server asks
    the hub whose it is and stores the events under that user.
    """

    server_url: str
    ingest_token: str = ""
    hub_token: str = ""

    @property
    def events_url(self) -> str:
        return self.server_url.rstrip("/") + INGEST_PATH


class _Retry(Exception):
    def __init__(self, state: DeliveryState, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.state = state
        self.retry_after = retry_after


class Forwarder:
    """The delivery loop and what the status handler reports about it."""

    def __init__(
        self,
        queue: DiskQueue,
        target: Callable[[], Awaitable[Target | None]],
        *,
        batch_size: int = 500,
        retry: Backoff | None = None,
        request_timeout: float = 30.0,
        idle_poll_seconds: float = 30.0,
    ) -> None:
        self.queue = queue
        self._target = target
        self._batch_size = batch_size
        self._batch_limit = batch_size
        self._retry = retry or Backoff(1.0, 60.0)
        self._timeout = request_timeout
        self._idle_poll = idle_poll_seconds
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failures = 0
        self.last_error: str | None = None
        self.last_delivery_at: float | None = None
        self.unreachable_since: float | None = None
        self.delivered = 0
        # Acknowledged by the class server but still on disk (the delete failed).
        self._acknowledged: set[int] = set()
        self.queue_error: str | None = None
        self.state = DeliveryState.ok

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="cell-monitor-forwarder")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """New events are queued: send them now unless backing off."""
        self._wakeup.set()

    def unreachable_seconds(self) -> float | None:
        if self.unreachable_since is None:
            return None
        return max(0.0, time.time() - self.unreachable_since)

    async def _run(self) -> None:
        while True:
            # Cleared before looking at the queue, not after: a wake() while
            # forward_once runs must not be lost (it would wait idle_poll).
            self._wakeup.clear()
            try:
                outcome = await self.forward_once()
            except Exception:  # a bug must not end delivery for good
                log.exception("cell-monitor: unexpected error while forwarding")
                outcome = self._failed(
                    DeliveryState.internal_error, "internal error (see the Jupyter server log)"
                )
            if outcome == "sent":
                continue
            if isinstance(outcome, float):
                # Backing off: new events do not cut the wait short, so a
                # down server is not hammered by a busy classroom.
                await asyncio.sleep(outcome)
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._idle_poll)

    async def forward_once(self) -> str | float:
        """Send one batch: "sent", "idle" (nothing to do) or a retry delay in seconds."""
        target = await self._target()
        if target is None:
            return "idle"
        await self._delete_acknowledged()
        peeked = await self.queue.peek(self._batch_limit + len(self._acknowledged))
        batch = [item for item in peeked if item.seq not in self._acknowledged]
        batch = batch[: self._batch_limit]
        if not batch:
            return "idle"
        try:
            response = await self._post(target, batch)
            await self._settle(batch, response)
        except _Retry as exc:
            return self._failed(exc.state, str(exc), exc.retry_after)
        self._succeeded(target)
        return "sent"

    async def _post(self, target: Target, batch: list[QueuedEvent]) -> HTTPResponse:
        headers = {"Content-Type": "application/json"}
        if target.hub_token:
            headers["Authorization"] = f"token {target.hub_token}"
        elif target.ingest_token:
            headers["Authorization"] = f"Bearer {target.ingest_token}"
        request = HTTPRequest(
            target.events_url,
            method="POST",
            headers=headers,
            body=json.dumps([item.body for item in batch], separators=(",", ":")),
            request_timeout=self._timeout,
            connect_timeout=min(10.0, self._timeout),
            # A redirect (http → https, say) would turn the POST into a GET of
            # the read API, whose 200 must never pass for an acknowledgement.
            follow_redirects=False,
        )
        try:
            return await AsyncHTTPClient().fetch(request, raise_error=False)
        except (HTTPClientError, OSError, asyncio.TimeoutError) as exc:
            raise _Retry(
                DeliveryState.unreachable, f"class server {target.server_url} unreachable: {exc}"
            ) from exc

    async def _settle(self, batch: list[QueuedEvent], response: HTTPResponse) -> None:
        """Delete what the answer acknowledges, or raise _Retry to keep it."""
        code = response.code
        seqs = [item.seq for item in batch]
        if code == 202 and _is_ingest_answer(response):
            self._log_rejections(batch, response)
            await self._acknowledge(seqs)
            self.delivered += len(seqs)
            self._batch_limit = self._batch_size
        elif code == 422 and _is_ingest_answer(response):
            # The class server found nothing usable; resending cannot help.
            log.warning("cell-monitor: class server rejected %d events as invalid", len(seqs))
            await self._acknowledge(seqs)
        elif code == 413 and len(batch) > 1:
            # Over the server's size limit: resend the same events in halves.
            self._batch_limit = max(1, len(batch) // 2)
        elif code == 413:
            log.error("cell-monitor: dropping event %s, too large", batch[0].body.get("eventId"))
            await self._acknowledge(seqs)
        else:
            state, reason = classify_failure(response)
            raise _Retry(state, reason, _retry_after(response))

    async def _acknowledge(self, seqs: list[int]) -> None:
        """Delete answered events; if the disk refuses, remember them instead of resending."""
        try:
            await self.queue.delete(seqs)
        except QueueUnwritable as exc:
            self._acknowledged.update(seqs)
            self._queue_failed(exc)
        else:
            self.queue_error = None

    async def _delete_acknowledged(self) -> None:
        if not self._acknowledged:
            return
        pending = sorted(self._acknowledged)
        try:
            await self.queue.delete(pending)
        except QueueUnwritable as exc:
            self._queue_failed(exc)
            return
        self._acknowledged.difference_update(pending)
        self.queue_error = None
        log.info("cell-monitor: %d delivered events cleared from the queue", len(pending))

    def _queue_failed(self, exc: QueueUnwritable) -> None:
        reason = f"delivered events cannot be cleared from the queue: {exc}"
        if self.queue_error != reason:
            log.error("cell-monitor: %s; they will not be sent again", reason)
        self.queue_error = reason

    @property
    def acknowledged_pending(self) -> int:
        """Delivered events still on disk because deleting them failed."""
        return len(self._acknowledged)

    def _succeeded(self, target: Target) -> None:
        if self.state is not DeliveryState.ok:
            log.info("cell-monitor: delivering to %s again", target.server_url)
        self.state = DeliveryState.ok
        self.failures = 0
        self.last_error = None
        self.unreachable_since = None
        self.last_delivery_at = time.time()

    def _failed(self, state: DeliveryState, reason: str, retry_after: float | None = None) -> float:
        self.failures += 1
        self.last_error = reason
        if self.unreachable_since is None:
            self.unreachable_since = time.time()
        delay = self._retry.delay(self.failures)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if state is not self.state:
            # Once per change: a class offline for an hour is one line, not hundreds.
            log.warning("cell-monitor: events cannot be delivered (%s): %s", state.value, reason)
            self.state = state
        log.debug("cell-monitor: delivery failed (%s); retry in %.1f s", reason, delay)
        return delay

    @staticmethod
    def _log_rejections(batch: list[QueuedEvent], response: HTTPResponse) -> None:
        try:
            rejected = json.loads(response.body or b"{}").get("rejected") or []
        except (ValueError, AttributeError):
            return
        for item in rejected[:10]:
            log.warning(
                "cell-monitor: class server rejected event %s: %s",
                item.get("eventId"),
                "; ".join(item.get("errors") or []),
            )


def _is_ingest_answer(response: HTTPResponse) -> bool:
    """The body is cell-monitor's IngestResponse, not some proxy's error page."""
    try:
        body = json.loads(response.body or b"")
    except ValueError:
        return False
    return isinstance(body, dict) and "accepted" in body and "rejected" in body


def classify_failure(response: HTTPResponse) -> tuple[DeliveryState, str]:
    """Why an answer is not an acknowledgement, and what the student should be told."""
    code = response.code
    if code == 599:
        return DeliveryState.unreachable, f"class server unreachable: {response.error}"
    if code in (401, 403):
        return DeliveryState.refused, (
            f"class server refused the ingest token ({code}): check CELL_MONITOR_INGEST_TOKEN"
        )
    if 300 <= code < 400:
        location = response.headers.get("Location", "?")
        return DeliveryState.wrong_url, (
            f"class server redirects ({code}) to {location}: configure that URL"
        )
    if code == 429 or (code >= 500 and code != 501):
        return DeliveryState.server_error, f"class server answered {code}"
    # 404/405/501 (no such route or method), or a 2xx/4xx that is not
    # cell-monitor's answer: another web server answers at that URL.
    return DeliveryState.wrong_url, (
        f"not a cell-monitor server (answered {code} to POST {response.effective_url}): "
        "check CELL_MONITOR_SERVER_URL"
    )


def _retry_after(response: HTTPResponse) -> float | None:
    value: Any = response.headers.get("Retry-After") if response.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
