"""Events flowing: how long ago the last event was stored (the guide's "events not sent")."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from cell_monitor.config import ConfigError
from cell_monitor.doctor.database import engine_for, sqlite_missing
from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok, skipped
from cell_monitor.doctor.options import DoctorOptions

NAME = "flow"


async def last_event_at(options: DoctorOptions) -> datetime | None:
    from cell_monitor.storage.models import Event

    # The newest row by primary key: one index probe however long the log is.
    query = select(Event.received_at).order_by(Event.id.desc()).limit(1)
    async with engine_for(options) as engine, engine.connect() as connection:
        return (await connection.execute(query)).scalar_one_or_none()


async def check(options: DoctorOptions) -> CheckResult:
    try:
        if sqlite_missing(options) is not None:
            return skipped(NAME, "no database yet")
        last = await last_event_at(options)
    except ConfigError:
        return skipped(NAME, "DATABASE_URL is invalid")
    except Exception:
        return skipped(NAME, "the event log cannot be read (see database.*)")
    if last is None:
        return found(NAME, _never())
    age = (datetime.now(timezone.utc) - last).total_seconds()
    facts: dict[str, Any] = {"last_event_at": last.isoformat(), "age_seconds": round(age, 1)}
    if age > options.stale_after_seconds:
        return found(NAME, _stale(age, last), **facts)
    return ok(NAME, f"last event stored {_ago(age)} ago", **facts)


def _never() -> Finding:
    return Finding(
        id="flow.no_events",
        urgency=Urgency.low,
        title="No event has been stored yet",
        detail="Normal before the first class; otherwise no JupyterLab reaches this server.",
        fix="Open a notebook with the extension and run a cell; or try the pipeline with "
        "`cell-monitor simulate --students 5 --duration 30`.",
    )


def _stale(age: float, last: datetime) -> Finding:
    return Finding(
        id="flow.stale",
        urgency=Urgency.medium,
        title=f"No event for {_ago(age)}",
        detail=f"The last event was stored at {last:%Y-%m-%d %H:%M:%S} UTC. During a class this "
        "means JupyterLab's events do not arrive.",
        fix="Where JupyterLab runs, `cell-monitor doctor` shows the extension and its queue "
        "(jupyter.*); check CELL_MONITOR_SERVER_URL, the ingest token, CORS for direct "
        "browser clients (api.cors_origin_missing) and the API's log.",
    )


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"
