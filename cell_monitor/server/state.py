"""What the lifespan builds and the routes use, kept on `app.state.cell_monitor`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.accounts.hub import HubClient
from cell_monitor.accounts.ingest_tokens import TokenCache
from cell_monitor.accounts.ratelimit import Limits
from cell_monitor.config import Settings
from cell_monitor.help.service import HelpService
from cell_monitor.inbox.service import InboxService
from cell_monitor.ingest.pipeline import Pipeline
from cell_monitor.live.service import LiveService
from cell_monitor.messages.service import MessageService
from cell_monitor.sinks.influx.sink import InfluxSink

# A health check returns nothing when the service is fine and raises otherwise.
HealthCheck = Callable[[], Awaitable[None]]


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    pipeline: Pipeline
    live: LiveService
    messages: MessageService
    tokens: TokenCache
    limits: Limits
    inbox: InboxService
    help: HelpService
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    # Services without which events cannot be accepted (readiness).
    required_services: set[str] = field(default_factory=set)
    influx: InfluxSink | None = None
    hub: HubClient | None = None  # hub mode (CELL_MONITOR_HUB_API_URL)
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
