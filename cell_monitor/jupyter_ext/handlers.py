"""The extension's HTTP API, for the JupyterLab extension only.

Every method is `@tornado.web.authenticated` and the handlers derive from
APIHandler, so Jupyter's token/cookie auth and XSRF protection apply: the
browser talks to its own Jupyter server, never cross-origin to the class
server.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError

from cell_monitor.contract.jupyter import (
    AnnounceAnswer,
    AnnounceRequest,
    QueueAnswer,
    QueueRejection,
)
from cell_monitor.jupyter_ext.disk_queue import QueueFull, QueueUnwritable
from cell_monitor.jupyter_ext.messages import HistoryUnavailable, fetch_history

if TYPE_CHECKING:
    from cell_monitor.jupyter_ext.app import CellMonitorExtension

MAX_EVENT_ID_CHARS = 128
MAX_INBOX_WAIT_SECONDS = 30.0


class _Base(APIHandler):
    @property
    def extension(self) -> CellMonitorExtension:
        return self.settings["cell_monitor"]

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class EventsHandler(_Base):
    """POST cell-monitor/events: queue a batch from the browser durably."""

    @tornado.web.authenticated
    async def post(self) -> None:
        ext = self.extension
        if not ext.enabled:
            return self._reply(409, {"detail": "cell-monitor is disabled on this Jupyter server"})
        if len(self.request.body) > ext.max_request_bytes:
            return self._reply(413, {"detail": f"body over {ext.max_request_bytes} bytes"})
        try:
            payload = json.loads(self.request.body or b"null")
        except ValueError:
            return self._reply(400, {"detail": "body is not JSON"})
        if ext.require_consent and not _consented(payload):
            # The browser holds events back until the notice is accepted; this
            # refusal only guards against an outdated or altered client.
            return self._reply(409, {"detail": "the student has not accepted the data notice"})
        events, target = _unpack(payload)
        if events is None:
            return self._reply(400, {"detail": 'expected {"events": [...]} or a JSON array'})
        if len(events) > ext.max_request_events:
            return self._reply(413, {"detail": f"more than {ext.max_request_events} events"})

        valid, rejected = _split_valid(events)
        try:
            result = await ext.queue.put([ext.stamp(event) for event in valid])
            if target is not None:
                await ext.remember_client_target(target)
        except QueueFull as exc:
            # Nothing stored: the browser keeps the batch and retries later.
            self.set_header("Retry-After", "60")
            return self._reply(503, {"detail": f"queue full: {exc}"})
        except QueueUnwritable as exc:
            # Nothing acknowledged: the browser keeps the batch and retries later.
            ext.queue_failed(str(exc))
            self.set_header("Retry-After", "30")
            detail = f"events cannot be saved on the Jupyter server: {exc}"
            return self._reply(507 if exc.disk_full else 503, {"detail": detail})
        ext.queue_recovered()
        ext.ensure_forwarding()
        ext.forwarder.wake()
        answer = QueueAnswer(
            queued=result.stored,
            duplicates=result.duplicates,
            rejected=[QueueRejection(**r) for r in rejected],
            queue_length=result.length,
        )
        self._reply(202, _wire(answer))


class StatusHandler(_Base):
    """GET cell-monitor/status: delivery state for the browser's indicator."""

    @tornado.web.authenticated
    async def get(self) -> None:
        self._reply(200, _wire(await self.extension.status()))


class InboxHandler(_Base):
    """GET cell-monitor/inbox?since=&wait=: the relay's latest copy of the student's inbox."""

    @tornado.web.authenticated
    async def get(self) -> None:
        ext = self.extension
        since = self.get_argument("since", None)
        try:
            wait = min(max(float(self.get_argument("wait", "0")), 0.0), MAX_INBOX_WAIT_SECONDS)
        except ValueError:
            return self._reply(400, {"detail": "wait must be a number of seconds"})
        if not ext.enabled:
            return self._reply(409, {"detail": "cell-monitor is disabled on this Jupyter server"})
        ext.ensure_forwarding()
        ext.inbox.wake()
        self.set_header("Cache-Control", "no-store")
        self._reply(200, _wire(await ext.inbox.wait_for_change(since, wait)))


class MessagesHandler(_Base):
    """GET cell-monitor/messages: the student's message history, from the class server."""

    @tornado.web.authenticated
    async def get(self) -> None:
        ext = self.extension
        if not ext.enabled:
            return self._reply(409, {"detail": "cell-monitor is disabled on this Jupyter server"})
        target = await ext.target()
        if target is None:
            return self._reply(503, {"detail": "no class server configured"})
        try:
            history = await fetch_history(target, ext.request_timeout_seconds)
        except HistoryUnavailable as exc:
            return self._reply(502, {"detail": str(exc)})
        self.set_header("Cache-Control", "no-store")
        self._reply(200, _wire(history))


class AnnounceHandler(_Base):
    """POST cell-monitor/messages/announce: which of these messages this tab announces.

    Every tab of every browser of the student receives the same inbox; the first
    to ask for a message id gets it, the others show it in the panel only. The
    claims are kept on disk, so a restart of JupyterLab or of this server
    announces nothing again.
    """

    @tornado.web.authenticated
    async def post(self) -> None:
        ext = self.extension
        if not ext.enabled:
            return self._reply(409, {"detail": "cell-monitor is disabled on this Jupyter server"})
        try:
            request = AnnounceRequest.model_validate_json(self.request.body or b"null")
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            detail = f'expected {{"messageIds": [...]}}: {where}: {error["msg"]}'[:300]
            return self._reply(400, {"detail": detail})
        try:
            claimed = await ext.queue.claim_announcements(request.message_ids)
        except QueueUnwritable as exc:
            # Nothing claimed: the tab asks again later rather than risk a second pop-up.
            self.set_header("Retry-After", "30")
            return self._reply(503, {"detail": f"cannot record the announcement: {exc}"})
        self._reply(200, _wire(AnnounceAnswer(announce=claimed)))


def _wire(answer: BaseModel) -> dict[str, Any]:
    body: dict[str, Any] = answer.model_dump(mode="json", by_alias=True)
    return body


def _consented(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("consent") is True


def _unpack(payload: Any) -> tuple[list[Any] | None, dict[str, Any] | None]:
    if isinstance(payload, list):
        return payload, None
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        target = payload.get("target")
        return payload["events"], target if isinstance(target, dict) else None
    return None, None


def _split_valid(events: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Events that can be queued, and why the others cannot (by index)."""
    valid, rejected = [], []
    for index, event in enumerate(events):
        problem = _problem(event)
        if problem:
            rejected.append({"index": index, "error": problem})
        else:
            valid.append(event)
    return valid, rejected


def _problem(event: Any) -> str | None:
    """Why an event cannot be queued; the class server validates the rest."""
    if not isinstance(event, dict):
        return "not a JSON object"
    event_id = event.get("eventId")
    if not isinstance(event_id, str) or not event_id.strip():
        return "eventId missing: it is needed to deliver the event exactly once"
    if len(event_id) > MAX_EVENT_ID_CHARS:
        return f"eventId longer than {MAX_EVENT_ID_CHARS} characters"
    if not isinstance(event.get("eventType"), str):
        return "eventType missing"
    return None
