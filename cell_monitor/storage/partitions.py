"""Monthly partitions of the event log on PostgreSQL, created ahead of time.

`events` and `cell_executions` are partitioned by RANGE (event_time), one
partition per calendar month (UTC) named `<table>_pYYYY_MM`, plus a DEFAULT
partition `<table>_default` for what no month partition covers: events from
clocks far in the past or future, and anything older than the first month
partition. Both tables use the same bounds, so a cell execution always lives in
the partition of the same month as its event, and a month is dropped from both
at once (storage/retention.py).

Exactly-once does not rest on the partitioned tables: PostgreSQL can only
enforce a unique key on a partitioned table if it includes the partition key,
and (event_id, event_time) would not do, since the server stamps events that
come without an eventTime with their arrival time, so a resend of one would
get a new event_time. Instead the narrow, unpartitioned table `event_ids`
(event_id primary key, event_time) is the idempotency key: a group write
inserts there first and stores only the events whose id was new (bulk.py).

A month partition cannot be created while the DEFAULT partition holds rows of
that month (PostgreSQL refuses); `ensure_partitions` then moves those rows into
a new table and attaches it as the month's partition, in one transaction.

SQLite keeps plain tables; every function here is a no-op there.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.progress import NO_PROGRESS, Progress

log = logging.getLogger(__name__)

# Parent first: cell_executions references events.
PARTITIONED = ("events", "cell_executions")
# The user's guide: re-analyze after 2 % of a partition changed (the default,
# 10 %, leaves the planner with stale statistics for a whole busy week).
ANALYZE_SCALE_FACTOR = 0.02
# Not in the guide: vacuum after 5 % (default 20 %), for the same reason.
VACUUM_SCALE_FACTOR = 0.05
# DDL on a partitioned table queues behind running queries and blocks new ones
# while it waits: give up quickly and try again on the next run instead.
LOCK_TIMEOUT = "5s"
_MONTH_NAME = re.compile(r"^(?P<table>[a-z_]+)_p(?P<year>\d{4})_(?P<month>\d{2})$")


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)


def add_months(month: datetime, count: int) -> datetime:
    index = month.year * 12 + month.month - 1 + count
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month:%Y_%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


def month_of(name: str) -> datetime | None:
    """The month a partition named by `partition_name` covers."""
    match = _MONTH_NAME.match(name)
    if match is None:
        return None
    return datetime(int(match["year"]), int(match["month"]), 1, tzinfo=timezone.utc)


def _literal(moment: datetime) -> str:
    return f"'{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}+00'"


def tuning_sql(relation: str) -> str:
    """The autovacuum settings every partition (and event_ids) gets."""
    return (
        f"ALTER TABLE {relation} SET (autovacuum_analyze_scale_factor = {ANALYZE_SCALE_FACTOR}, "
        f"autovacuum_vacuum_scale_factor = {VACUUM_SCALE_FACTOR})"
    )


def is_partitioned(conn: Connection) -> bool:
    """True on PostgreSQL once the schema has partitioned events."""
    if conn.dialect.name != "postgresql":
        return False
    query = (
        "SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('events') AND relkind = 'p')"
    )
    return bool(conn.execute(text(query)).scalar_one())


def month_partitions(conn: Connection, table: str) -> dict[datetime, str]:
    """{month: partition name} of `table`'s month partitions."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:table)"
        ),
        {"table": table},
    ).scalars()
    months = {}
    for name in rows:
        month = month_of(name)
        if month is not None and name.startswith(f"{table}_p"):
            months[month] = name
    return months


def create_default_partitions(conn: Connection) -> None:
    for table in PARTITIONED:
        name = default_name(table)
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} DEFAULT"))
        conn.execute(text(tuning_sql(name)))


def _default_has_rows(conn: Connection, table: str, lo: datetime, hi: datetime) -> bool:
    query = (
        f"SELECT EXISTS (SELECT 1 FROM {default_name(table)} "
        f"WHERE event_time >= {_literal(lo)} AND event_time < {_literal(hi)})"
    )
    return bool(conn.execute(text(query)).scalar_one())


def ensure_month(conn: Connection, month: datetime) -> list[str]:
    """Create `month`'s partitions that are missing (inside the caller's transaction)."""
    lo, hi = month, add_months(month, 1)
    bounds = f"FOR VALUES FROM ({_literal(lo)}) TO ({_literal(hi)})"
    missing = [t for t in PARTITIONED if month not in month_partitions(conn, t)]
    if not missing:
        return []
    # Lock the defaults first (events before cell_executions, the writers' order):
    # rows of this month must not land there between the check and the attach.
    defaults = ", ".join(default_name(t) for t in PARTITIONED)
    conn.execute(text(f"LOCK TABLE {defaults} IN SHARE ROW EXCLUSIVE MODE"))
    # A plain table attached as the partition, rather than CREATE TABLE ...
    # PARTITION OF: ATTACH locks the parent in SHARE UPDATE EXCLUSIVE mode, which
    # lets queries go on where CREATE would block them all (writes wait only
    # while the executions' foreign key is checked on the empty new table).
    # Rows of the month found in the defaults move over first: executions
    # before events, so that deleting the events cascades to nothing; attached
    # events first, for the executions' foreign key to find its rows.
    where = f"event_time >= {_literal(lo)} AND event_time < {_literal(hi)}"
    moved = False
    for table in reversed(missing):
        name = partition_name(table, month)
        conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
        if _default_has_rows(conn, table, lo, hi):
            conn.execute(
                text(f"INSERT INTO {name} SELECT * FROM {default_name(table)} WHERE {where}")
            )
            conn.execute(text(f"DELETE FROM {default_name(table)} WHERE {where}"))
            moved = True
    for table in missing:
        name = partition_name(table, month)
        conn.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} {bounds}"))
        conn.execute(text(tuning_sql(name)))
    if moved:
        log.info("Moved rows of %s out of the default partitions", f"{month:%Y-%m}")
    return [partition_name(t, month) for t in missing]


def ensure_range(conn: Connection, first: datetime, last: datetime) -> list[str]:
    """Partitions for every month from `first` to `last` (inclusive), in one transaction."""
    created = []
    month = month_start(first)
    while month <= last:
        created += ensure_month(conn, month)
        month = add_months(month, 1)
    return created


async def ensure_partitions(
    engine: AsyncEngine,
    months_ahead: int,
    now: datetime | None = None,
    progress: Progress = NO_PROGRESS,
) -> list[str]:
    """Partitions for the current month and `months_ahead` more; returns those created.

    `progress` advances by one per month (moving a month's rows out of the
    default partition is what can take long).
    """
    if engine.dialect.name != "postgresql":
        return []
    current = month_start(now or datetime.now(timezone.utc))
    created: list[str] = []
    progress.set_total(months_ahead + 1)
    for offset in range(months_ahead + 1):
        # One transaction per month: short locks, and a month that fails (lock
        # timeout) does not undo the others.
        async with engine.begin() as conn:
            if not await conn.run_sync(is_partitioned):
                return created
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            created += await conn.run_sync(ensure_month, add_months(current, offset))
        progress.advance(1, f"{add_months(current, offset):%Y-%m}")
    if created:
        log.info("Created partitions %s", ", ".join(created))
    return created
