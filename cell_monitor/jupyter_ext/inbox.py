"""The relay of the student's inbox: ONE long-poll to the class server per Jupyter server.

Browser tabs long-poll `GET cell-monitor/inbox` on their own Jupyter server and
are answered from the relay's latest copy, however many tabs are open. The
relay uses the credential the forwarder uses (the hub token in hub mode, the
per-student credential otherwise) and the shared backoff when the class server
is away or refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from cell_monitor.backoff import Backoff
from cell_monitor.contract.inbox import LabInbox, RelayState, StudentInbox
from cell_monitor.jupyter_ext.forwarder import Target

log = logging.getLogger(__name__)

INBOX_PATH = "/api/v1/student/inbox"
# Under the class server's 30 s limit, and under the idle timeouts of usual proxies.
UPSTREAM_WAIT_SECONDS = 25.0
NOT_CONFIGURED_POLL_SECONDS = 10.0


class InboxRelay:
    def __init__(
        self,
        target: Callable[[], Awaitable[Target | None]],
        *,
        retry: Backoff,
        request_timeout: float = 30.0,
        wait_seconds: float = UPSTREAM_WAIT_SECONDS,
    ) -> None:
        self._target = target
        self._retry = retry
        self._timeout = request_timeout
        self._wait = wait_seconds
        self.inbox: StudentInbox | None = None
        self.state = RelayState.connecting
        self.detail: str | None = None
        self._changed = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def etag(self) -> str:
        return f"{self.state.value}:{self.inbox.etag if self.inbox else '-'}"

    def snapshot(self) -> LabInbox:
        return LabInbox(etag=self.etag, state=self.state, detail=self.detail, inbox=self.inbox)

    def start(self) -> None:
        if not self.running:
            self._changed = asyncio.Event()
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="cell-monitor-inbox-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._signal()  # browser requests waiting on us answer now

    async def wait_for_change(self, since: str | None, wait: float) -> LabInbox:
        """The latest copy at once if its etag is not `since`, else at a change or after `wait`."""
        if since != self.etag or wait <= 0:
            return self.snapshot()
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), wait)
        return self.snapshot()

    def _signal(self) -> None:
        # Every waiter holds the current event; a fresh one is set up for the next change.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _set(self, state: RelayState, detail: str | None, inbox: StudentInbox | None) -> None:
        before = self.etag
        if state is not self.state:
            log_ = log.info if state is RelayState.ok else log.warning
            log_("cell-monitor: inbox relay %s%s", state.value, f" ({detail})" if detail else "")
        self.state, self.detail = state, detail
        if inbox is not None:
            self.inbox = inbox
        if self.etag != before:
            self._signal()

    async def _run(self) -> None:
        while True:
            try:
                pause = await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must not end the relay for good
                log.exception("cell-monitor: inbox relay failed")
                self._set(RelayState.unreachable, f"internal error: {exc}", None)
                pause = self._retry.next()
            if pause > 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), pause)

    def wake(self) -> None:
        """The class server's address may be known now: try at once if not configured."""
        if self.state is RelayState.not_configured:
            self._wakeup.set()

    async def poll_once(self) -> float:
        """One long-poll upstream; the pause before the next one."""
        target = await self._target()
        if target is None:
            self._set(RelayState.not_configured, "no class server configured", None)
            return NOT_CONFIGURED_POLL_SECONDS
        since = self.inbox.etag if self.inbox and self.state is RelayState.ok else None
        try:
            code, body, retry_after = await self._fetch(target, since)
        except (HTTPClientError, OSError, asyncio.TimeoutError) as exc:
            self._set(RelayState.unreachable, f"class server unreachable: {exc}", None)
            return self._retry.next()
        if code == 200:
            try:
                inbox = StudentInbox.model_validate(json.loads(body))
            except ValueError as exc:
                self._set(RelayState.unreachable, f"not an inbox answer: {exc}"[:300], None)
                return self._retry.next()
            self._retry.reset()
            self._set(RelayState.ok, None, inbox)
            return 0.0
        detail = _detail(body) or f"HTTP {code}"
        if code in (401, 403):
            # A course token (or no credential): the class server cannot say who we
            # are. Retrying soon changes nothing; the backoff's maximum paces it.
            self._set(RelayState.refused, detail, None)
            return self._retry.next(at_least=retry_after)
        self._set(RelayState.unreachable, detail, None)
        return self._retry.next(at_least=retry_after)

    async def _fetch(self, target: Target, since: str | None) -> tuple[int, bytes, float | None]:
        query: dict[str, Any] = {"wait": f"{self._wait:g}"}
        if since:
            query["since"] = since
        headers = {"Accept": "application/json"}
        if target.hub_token:
            headers["Authorization"] = f"token {target.hub_token}"
        elif target.ingest_token:
            headers["Authorization"] = f"Bearer {target.ingest_token}"
        request = HTTPRequest(
            f"{target.server_url.rstrip('/')}{INBOX_PATH}?{urlencode(query)}",
            headers=headers,
            request_timeout=self._wait + self._timeout,
            connect_timeout=min(10.0, self._timeout),
            follow_redirects=False,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599 and response.error is not None:
            raise OSError(str(response.error))
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return response.code, response.body or b"", retry_after


def _detail(body: bytes) -> str | None:
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return None
    return str(detail)[:300] if detail else None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
