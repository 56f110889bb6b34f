"""Executions and errors per minute from InfluxDB (InfluxQL on `cell_execution`)."""

from __future__ import annotations

from datetime import datetime, timezone

from cell_monitor.sinks.influx.api import InfluxApi
from cell_monitor.sinks.influx.points import CELL_EXECUTION


def _rfc3339(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def activity_query(start: datetime, end: datetime) -> str:
    # count(has_error): every execution has it (duration_ms may be unknown);
    # has_error_int exists because InfluxQL cannot sum booleans.
    return (
        'SELECT count("has_error") AS executions, sum("has_error_int") AS errors '
        f'FROM "{CELL_EXECUTION}" '
        f"WHERE time >= '{_rfc3339(start)}' AND time < '{_rfc3339(end)}' "
        "GROUP BY time(1m) fill(0)"
    )


async def executions_per_minute(
    api: InfluxApi, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """{epoch minute: (executions, errors)} in [start, end)."""
    counts: dict[int, tuple[int, int]] = {}
    for series in await api.query(activity_query(start, end)):
        columns = series.get("columns", [])
        for values in series.get("values", []):
            row = dict(zip(columns, values, strict=False))
            executions = int(row.get("executions") or 0)
            if executions:
                counts[int(row["time"]) // 60_000] = (executions, int(row.get("errors") or 0))
    return counts
