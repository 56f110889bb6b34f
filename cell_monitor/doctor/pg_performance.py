"""The guide's "slow PostgreSQL" diagnostics: long-running statements, connection
use, planner statistics and table sizes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from cell_monitor.config import ConfigError
from cell_monitor.doctor.database import engine_for
from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, skipped
from cell_monitor.doctor.options import DoctorOptions

NAME = "database.performance"
# The guide's query, limited to this database: statements running for long, and
# sessions idle inside a transaction for long (they hold locks and block vacuum).
SLOW_QUERIES = text(
    """
    SELECT pid, EXTRACT(EPOCH FROM now() - since) AS seconds, state, left(query, 200)
    FROM (
        SELECT pid, state, query,
               CASE WHEN state = 'active' THEN query_start ELSE state_change END AS since
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
    ) AS running
    WHERE now() - since > make_interval(secs => :seconds)
    ORDER BY since
    """
)
CONNECTIONS = text("SELECT count(*), current_setting('max_connections')::int FROM pg_stat_activity")
# The guide's pg_total_relation_size query, with the planner's view of each table.
TABLES = text(
    """
    SELECT t.relname, pg_total_relation_size(t.relid), t.n_live_tup, t.n_dead_tup,
           COALESCE(t.last_analyze, t.last_autoanalyze) IS NOT NULL,
           EXISTS (SELECT 1 FROM pg_stats s
                   WHERE s.schemaname = t.schemaname AND s.tablename = t.relname)
    FROM pg_stat_user_tables t
    WHERE t.schemaname = current_schema()
    ORDER BY pg_total_relation_size(t.relid) DESC
    """
)
# Tables below this many rows are planned well without statistics.
STATS_MIN_ROWS = 10_000
LARGE_BYTES = 50 * 1024**3


async def check(options: DoctorOptions) -> CheckResult:
    try:
        url = make_url(options.settings.effective_database_url)
    except ConfigError:
        return skipped(NAME, "DATABASE_URL is invalid")
    if url.get_backend_name() != "postgresql":
        return skipped(NAME, "PostgreSQL only (the database is SQLite)")
    async with engine_for(options) as engine:
        try:
            async with engine.connect() as connection:
                slow = (
                    await connection.execute(SLOW_QUERIES, {"seconds": options.slow_query_seconds})
                ).all()
                used, limit = (await connection.execute(CONNECTIONS)).one()
                tables = (await connection.execute(TABLES)).all()
        except Exception:
            return skipped(NAME, "the database does not answer (see database.*)")
    findings = [*_slow(slow, options), *_connections(used, limit), *_tables(tables)]
    sizes = {row[0]: int(row[1]) for row in tables}
    total = sum(sizes.values())
    summary = f"{used}/{limit} connections, tables {_size(total)} in total" + (
        f" (largest: {tables[0][0]} {_size(int(tables[0][1]))})" if tables else ""
    )
    return found(NAME, *findings, summary=summary, table_bytes=sizes, connections=used)


def _slow(rows: Sequence[Any], options: DoctorOptions) -> list[Finding]:
    if not rows:
        return []
    lines = [
        f"pid {pid}: {seconds:.0f}s {state}: {' '.join(query.split())}"
        for pid, seconds, state, query in rows
    ]
    return [
        Finding(
            id="database.slow_queries",
            urgency=Urgency.medium,
            title=f"{len(rows)} statement(s) running longer than {options.slow_query_seconds:g}s",
            detail="\n".join(lines[:10]),
            fix="Look at the plan (`EXPLAIN ANALYZE <query>`); cancel a runaway statement with "
            "`SELECT pg_cancel_backend(<pid>)`; a session idle in transaction holds locks: "
            "`SELECT pg_terminate_backend(<pid>)`.",
        )
    ]


def _connections(used: int, limit: int) -> list[Finding]:
    if used < 0.8 * limit:
        return []
    return [
        Finding(
            id="database.connections_near_limit",
            urgency=Urgency.medium,
            title=f"PostgreSQL has {used} of {limit} connections in use",
            fix="Lower CELL_MONITOR_DB_POOL_SIZE times the workers, put PgBouncer in front, "
            "or raise "
            "max_connections.",
        )
    ]


def _tables(rows: Sequence[Any]) -> list[Finding]:
    findings = []
    unanalyzed = [row[0] for row in rows if row[2] >= STATS_MIN_ROWS and not (row[4] or row[5])]
    if unanalyzed:
        findings.append(
            Finding(
                id="database.stats_missing",
                urgency=Urgency.low,
                title="Large tables without planner statistics",
                detail=", ".join(unanalyzed),
                fix=" ".join(f"ANALYZE {name};" for name in unanalyzed)
                + " Keep autovacuum on (ALTER TABLE … SET "
                "(autovacuum_analyze_scale_factor = 0.02)).",
            )
        )
    bloated = [row[0] for row in rows if row[3] > STATS_MIN_ROWS and row[3] > 0.2 * max(row[2], 1)]
    if bloated:
        findings.append(
            Finding(
                id="database.dead_rows",
                urgency=Urgency.low,
                title="Tables with many dead rows",
                detail=", ".join(bloated),
                fix=" ".join(f"VACUUM ANALYZE {name};" for name in bloated),
            )
        )
    total = sum(int(row[1]) for row in rows)
    if total > LARGE_BYTES:
        findings.append(
            Finding(
                id="database.large",
                urgency=Urgency.low,
                title=f"The database holds {_size(total)}",
                detail=", ".join(f"{row[0]} {_size(int(row[1]))}" for row in rows[:5]),
                fix="Keep only the terms you need (the retention settings) and plan disk space; "
                "see docs/operations.md, Backup.",
            )
        )
    return findings


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
