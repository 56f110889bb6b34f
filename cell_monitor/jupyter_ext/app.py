"""The server extension application: configuration, lifecycle, handlers.

Configure it once for everyone in `jupyter_server_config.py`
(`c.CellMonitorExtension.server_url = ...`) or with environment variables
(CELL_MONITOR_SERVER_URL, CELL_MONITOR_INGEST_TOKEN, ...); the browser's own
settings are used only for what neither provides.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Unicode, default

from cell_monitor.backoff import Backoff
from cell_monitor.contract.jupyter import LabStatus, NoticeConfig
from cell_monitor.jupyter_ext.disk_queue import DiskQueue
from cell_monitor.jupyter_ext.environment import read_environment
from cell_monitor.jupyter_ext.forwarder import Forwarder, Target
from cell_monitor.jupyter_ext.handlers import (
    AnnounceHandler,
    EventsHandler,
    InboxHandler,
    MessagesHandler,
    StatusHandler,
)
from cell_monitor.jupyter_ext.identity import stamp_identity
from cell_monitor.jupyter_ext.inbox import InboxRelay

_CLIENT_TARGET_KEY = "client_target"


def _identity_mode(target: Target | None) -> str | None:
    """How the class server learns who the events are about (for the status and doctor)."""
    if target is None:
        return None
    if target.hub_token:
        return "hub"
    if target.ingest_token.startswith("cms_"):
        return "credential"
    return "declared"


class CellMonitorExtension(ExtensionApp):
    """Queues the browser's events on disk and forwards them to the class server."""

    name = "cell_monitor"
    load_other_extensions = True

    enabled = Bool(
        True,
        help="Accept and forward events. Off: the browser captures and sends nothing "
        "(env CELL_MONITOR_ENABLED=0).",
    ).tag(config=True)
    server_url = Unicode(
        help="Base URL of the class's cell-monitor server (env CELL_MONITOR_SERVER_URL). "
        "When empty, the student's `serverUrl` setting is used."
    ).tag(config=True)
    ingest_token = Unicode(
        help="Sent as `Authorization: Bearer <token>` to the class server "
        "(env CELL_MONITOR_INGEST_TOKEN)."
    ).tag(config=True)
    hub_user = Unicode(
        help="The student's identity on JupyterHub (env JUPYTERHUB_USER); "
        "when set, it replaces any identity the browser sends."
    ).tag(config=True)
    hub_identity = Bool(
        help="On JupyterHub, authenticate to the class server with this user's hub token "
        "(JUPYTERHUB_API_TOKEN), so that the class server stores the events under the hub "
        "user whatever the body says (env CELL_MONITOR_HUB_IDENTITY=1). Needs a class server "
        "in hub mode and a server-side server_url."
    ).tag(config=True)
    hub_api_token = Unicode(
        help="The hub token sent with hub_identity (env JUPYTERHUB_API_TOKEN, set by the hub)."
    ).tag(config=True)
    user_id = Unicode(
        help="userId for events that carry no identity (env CELL_MONITOR_USER_ID; "
        "default: the operating-system user)."
    ).tag(config=True)
    queue_path = Unicode(
        help="SQLite file of the durable queue (env CELL_MONITOR_QUEUE_PATH; default: "
        "cell_monitor/queue.sqlite3 in the Jupyter data dir)."
    ).tag(config=True)
    max_queue_events = Int(
        100_000,
        help="Most events kept while the class server is unreachable "
        "(env CELL_MONITOR_MAX_QUEUE_EVENTS); beyond it new batches are refused "
        "and wait in the browser.",
    ).tag(config=True)
    batch_size = Int(500, help="Most events forwarded in one request.").tag(config=True)
    max_request_events = Int(1000, help="Most events in one request from the browser.").tag(
        config=True
    )
    max_request_bytes = Int(
        5 * 1024 * 1024, help="Largest request body accepted from the browser."
    ).tag(config=True)
    retry_initial_seconds = Float(
        1.0, help="First retry delay (env CELL_MONITOR_RETRY_INITIAL_SECONDS); doubles per failure."
    ).tag(config=True)
    retry_max_seconds = Float(
        60.0, help="Longest retry delay (env CELL_MONITOR_RETRY_MAX_SECONDS)."
    ).tag(config=True)
    request_timeout_seconds = Float(30.0, help="Timeout of one request to the class server.").tag(
        config=True
    )
    warn_after_seconds = Int(
        120,
        help="Tell the student once the class server has been unreachable this long "
        "(env CELL_MONITOR_WARN_AFTER_SECONDS, default 120).",
    ).tag(config=True)

    # Privacy: the transparency/consent notice the JupyterLab extension shows.
    privacy_contact = Unicode(
        help="Who students ask for a copy or the deletion of their data, shown in the "
        "data notice, e.g. 'privacy@school.example, room 12' (env CELL_MONITOR_PRIVACY_CONTACT)."
    ).tag(config=True)
    require_consent = Bool(
        False,
        help="Capture and send nothing until the student accepts the data notice "
        "(env CELL_MONITOR_REQUIRE_CONSENT=1); otherwise the notice is informational.",
    ).tag(config=True)
    engagement = Bool(
        True,
        help="Capture engagement signals: notebook visible or hidden, idle, per-cell edit "
        "counts and active time, never keystrokes (env CELL_MONITOR_ENGAGEMENT=0 turns "
        "them off for the course).",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        # Set before any configuration is loaded (here or when Jupyter links the
        # extension), so that config files and the command line win.
        for name, value in read_environment(self.traits(), os.environ).items():
            self.set_trait(name, value)
        super().__init__(**kwargs)

    @default("user_id")
    def _default_user_id(self) -> str:
        try:
            return getpass.getuser()
        except Exception:  # no user name in some containers
            return ""

    @default("queue_path")
    def _default_queue_path(self) -> str:
        return str(Path(jupyter_data_dir()) / "cell_monitor" / "queue.sqlite3")

    def initialize_settings(self) -> None:
        self.queue = DiskQueue(Path(self.queue_path), self.max_queue_events)
        self.queue.open()
        self.forwarder = Forwarder(
            self.queue,
            self.target,
            batch_size=self.batch_size,
            retry=Backoff(self.retry_initial_seconds, self.retry_max_seconds),
            request_timeout=self.request_timeout_seconds,
        )
        # One upstream long-poll for every browser tab of this Jupyter server.
        self.inbox = InboxRelay(
            self.target,
            retry=Backoff(self.retry_initial_seconds, self.retry_max_seconds),
            request_timeout=self.request_timeout_seconds,
        )
        self._client_target: Target | None = None
        if self.hub_identity and not (self.hub_api_token and self.server_url):
            self.log.warning(
                "cell-monitor: hub_identity needs JUPYTERHUB_API_TOKEN (set by JupyterHub) and "
                "a server-side server_url (CELL_MONITOR_SERVER_URL); sending without it"
            )
        self._queue_error: str | None = None
        self.log.info(
            "cell-monitor: queue %s, class server %s%s",
            self.queue_path,
            self.server_url or "from the browser's settings",
            f", hub user {self.hub_user}" if self.hub_user else "",
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            [
                (r"/cell-monitor/events", EventsHandler),
                (r"/cell-monitor/status", StatusHandler),
                (r"/cell-monitor/inbox", InboxHandler),
                (r"/cell-monitor/messages", MessagesHandler),
                (r"/cell-monitor/messages/announce", AnnounceHandler),
            ]
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self.ensure_forwarding()

    async def stop_extension(self) -> None:
        await self.inbox.stop()
        await self.forwarder.stop()
        self.queue.close()

    def ensure_forwarding(self) -> None:
        """Start the delivery task (idempotent; needs the running event loop)."""
        if self.enabled and not self.forwarder.running:
            self.forwarder.start()
        if self.enabled and not self.inbox.running:
            self.inbox.start()

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        return stamp_identity(event, hub_user=self.hub_user or None, fallback_user=self.user_id)

    async def target(self) -> Target | None:
        """Where to forward: the server's configuration first, else the student's setting."""
        if self.server_url:
            # The hub token goes only to the server the operator configured, never
            # to an address typed into the browser's settings.
            hub_token = self.hub_api_token if self.hub_identity else ""
            return Target(self.server_url, self.ingest_token, hub_token)
        if self._client_target is None:
            stored = await self.queue.get_meta(_CLIENT_TARGET_KEY)
            if stored:
                self._client_target = Target(**json.loads(stored))
        return self._client_target

    async def remember_client_target(self, raw: dict[str, Any]) -> None:
        """Keep the browser's serverUrl/ingestToken (used only without server config)."""
        url = str(raw.get("serverUrl") or "").strip()
        if self.server_url or not url.startswith(("http://", "https://")):
            return
        target = Target(url, str(raw.get("ingestToken") or "").strip())
        if target != self._client_target:
            self._client_target = target
            await self.queue.set_meta(
                _CLIENT_TARGET_KEY,
                json.dumps({"server_url": target.server_url, "ingest_token": target.ingest_token}),
            )

    def queue_failed(self, reason: str) -> None:
        """The browser's batch could not be saved (status names it until a save succeeds)."""
        if self._queue_error != reason:
            self.log.error("cell-monitor: cannot save events: %s", reason)
        self._queue_error = reason

    def queue_recovered(self) -> None:
        if self._queue_error is not None:
            self.log.info("cell-monitor: events are saved again")
        self._queue_error = None

    def queue_error(self) -> str | None:
        """Why events cannot be saved or cleared from the disk queue, if they cannot."""
        if self._queue_error:
            return self._queue_error
        return self.forwarder.queue_error

    async def status(self) -> LabStatus:
        self.ensure_forwarding()
        target = await self.target()
        forwarder = self.forwarder
        queue_error = self.queue_error()
        length = await self.queue.length()
        return LabStatus(
            enabled=self.enabled,
            configured=target is not None,
            server_url=target.server_url if target else None,
            hub_user=self.hub_user or None,
            identity=_identity_mode(target),
            queue_length=max(0, length - forwarder.acknowledged_pending),
            state=forwarder.state,
            queue_full=length >= self.queue.max_events,
            unreachable_seconds=forwarder.unreachable_seconds(),
            warn_after_seconds=self.warn_after_seconds,
            # The indicator shows lastError: a disk problem here outranks delivery.
            last_error=queue_error or forwarder.last_error,
            queue_error=queue_error,
            last_delivery_at=forwarder.last_delivery_at,
            delivered=forwarder.delivered,
            # What the data notice tells the student (the identity is theirs anyway).
            notice=NoticeConfig(
                require_consent=self.require_consent,
                privacy_contact=self.privacy_contact or None,
                user_id=self.user_id or None,
                engagement=self.engagement,
            ),
        )
