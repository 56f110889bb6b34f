"""The dashboard's activity chart: executions and errors per minute, from InfluxDB
when it is configured (it is built for such queries), else from the primary store.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from enum import Enum, IntEnum

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import backend_name
from cell_monitor.contract.reads import ActivityMinute, ActivityOut
from cell_monitor.reports import activity_influx as influx_activity
from cell_monitor.reports import activity_queries as store_activity
from cell_monitor.sinks.influx.api import InfluxApi, InfluxError

log = logging.getLogger(__name__)


class Hours(IntEnum):
    """The windows the dashboard offers."""

    one = 1
    three = 3
    six = 6
    day = 24


class ActivitySource(str, Enum):
    auto = "auto"
    influxdb = "influxdb"
    database = "database"


class ActivityUnavailable(RuntimeError):
    """The requested source cannot answer (503)."""


def window(hours: int, now: datetime) -> tuple[datetime, datetime]:
    """The `hours * 60` whole minutes that end with the current one."""
    current = now.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return current - timedelta(minutes=hours * 60 - 1), current + timedelta(minutes=1)


async def per_minute(
    engine: AsyncEngine,
    influx: InfluxApi | None,
    hours: int,
    source: ActivitySource = ActivitySource.auto,
    now: datetime | None = None,
) -> ActivityOut:
    start, end = window(hours, now or datetime.now(timezone.utc))
    fallback = None
    if source != ActivitySource.database and influx is not None:
        try:
            counts = await influx_activity.executions_per_minute(influx, start, end)
            return _out("influxdb", hours, start, counts)
        except InfluxError as exc:
            if source == ActivitySource.influxdb:
                raise ActivityUnavailable(f"InfluxDB did not answer: {exc}") from exc
            log.warning("Activity from the database: InfluxDB did not answer (%s)", exc)
            fallback = str(exc)
    elif source == ActivitySource.influxdb:
        raise ActivityUnavailable("InfluxDB is not configured (INFLUXDB_URL)")
    counts = await store_activity.executions_per_minute(engine, start, end)
    result = _out(backend_name(engine.url), hours, start, counts)
    result.fallback_reason = fallback
    return result


def _out(
    source: str, hours: int, start: datetime, counts: dict[int, tuple[int, int]]
) -> ActivityOut:
    first = int(start.timestamp()) // 60
    minutes = []
    for minute in range(first, first + hours * 60):
        executions, errors = counts.get(minute, (0, 0))
        when = datetime.fromtimestamp(minute * 60, timezone.utc)
        minutes.append(ActivityMinute(time=when, executions=executions, errors=errors))
    return ActivityOut(source=source, hours=hours, minutes=minutes)
