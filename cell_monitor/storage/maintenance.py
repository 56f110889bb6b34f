"""Storage maintenance in the server: partitions ahead and, when configured, retention.

Once at start and then every CELL_MONITOR_MAINTENANCE_INTERVAL_SECONDS (a day):
create the coming months' partitions (PostgreSQL) and, with
CELL_MONITOR_RETENTION_DAYS set, prune what is older. With several workers one
of them does it: the one holding the maintenance advisory lock (as for the
InfluxDB sink, see sinks/leader.py); the others try to take it over now and
then, so the work goes on when the leader's process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.storage.leader import Leadership
from cell_monitor.storage.partitions import ensure_partitions
from cell_monitor.storage.retention import PruneReport, prune

log = logging.getLogger(__name__)

LOCK_NAME = "storage-maintenance"
# How often a worker that is not the leader (or whose run failed) tries again.
RETRY_SECONDS = 300.0


class Maintenance:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self._settings = settings
        self._engine = engine
        self._leadership = Leadership(engine, LOCK_NAME, role="storage maintenance")
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        self.last_prune: PruneReport | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cell-monitor-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._leadership.release()

    async def run_once(self) -> None:
        """Partitions ahead, then the prune if retention is on."""
        settings = self._settings
        await ensure_partitions(self._engine, settings.partition_months_ahead)
        if settings.retention_days is not None:
            age = timedelta(days=settings.retention_days)
            self.last_prune = await prune(self._engine, settings, age)
        self.runs += 1

    async def _run(self) -> None:
        interval = self._settings.maintenance_interval_seconds
        while True:
            wait = min(interval, RETRY_SECONDS)
            try:
                if await self._leadership.acquire() and await self._leadership.confirm():
                    await self.run_once()
                    wait = interval
            except Exception:
                log.exception("Storage maintenance failed; it is tried again")
            await asyncio.sleep(wait)
