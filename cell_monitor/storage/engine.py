"""Async engines for SQLite and PostgreSQL, instrumented for slow queries."""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cell_monitor import metrics
from cell_monitor.config import Settings, backend_name

log = logging.getLogger(__name__)

# Execution option that makes a SQLite transaction take the write lock at BEGIN,
# so concurrent writers (several workers) queue on busy_timeout instead of
# failing with "database is locked" when a read lock cannot be upgraded.
WRITE_TX = "cell_monitor_write"
# Page cache per SQLite connection, KiB.
SQLITE_CACHE_KIB = 32768


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """The engine of the primary store described by `settings`."""
    url = url or settings.effective_database_url
    if backend_name(url) == "sqlite":
        engine = _sqlite_engine(url, settings)
    else:
        engine = create_async_engine(
            url,
            hide_parameters=True,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=True,
            pool_timeout=settings.db_timeout_seconds,
            connect_args={
                "timeout": settings.db_timeout_seconds,
                # A stalled network otherwise holds a commit (and every request
                # waiting for it) until TCP gives up, many minutes later.
                "command_timeout": settings.db_command_timeout_seconds,
                "server_settings": {"application_name": "cell-monitor"},
            },
        )
    _instrument(engine, settings.slow_query_ms / 1000.0)
    return engine


def _sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        create_private_file(Path(database))
    # hide_parameters: SQL errors (logged, and in tracebacks) never carry event
    # contents or password hashes.
    # LIFO: with one commit at a time the writes keep to the connection used
    # last, whose page cache still holds the indexes' hot pages; round robin
    # over the pool made each commit start on a cache another connection's
    # writes had invalidated.
    engine = create_async_engine(
        url, hide_parameters=True, connect_args={"timeout": 30}, pool_use_lifo=True
    )
    synchronous = settings.sqlite_synchronous

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN and breaks BEGIN
        # IMMEDIATE; take control of transactions (SQLAlchemy docs, "Serializable
        # isolation / Savepoints / Transactional DDL").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Room for the indexes' hot pages of a class's log (the default is 2 MiB,
        # a few thousand events' worth); a limit, not an allocation.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_TX, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by the owner only, if missing.

    Student data is personal data: the folder is created 0700, the file 0600,
    and SQLite gives the -wal and -shm files the mode of the database file.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


SLOW_SECONDS = "cell_monitor_slow_seconds"


def observe_query(info: dict[str, Any], operation: str, statement: str, elapsed: float) -> None:
    """Record one statement's duration; log it when slower than the threshold."""
    _query_duration(operation).observe(elapsed)
    if elapsed > info.get(SLOW_SECONDS, float("inf")):
        metrics.SLOW_QUERIES.inc()
        log.warning(
            "Slow query: %.4fs - %s...",
            elapsed,
            " ".join(statement.split())[:100],
            extra={"duration_s": round(elapsed, 4)},
        )


@functools.cache
def _query_duration(operation: str) -> Any:
    # A dozen statements per commit: looking the labelled child up each time
    # (a lock and a dict of label tuples) cost more than observing it.
    return metrics.DB_QUERY_DURATION.labels(operation)


def _instrument(engine: AsyncEngine, slow_seconds: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _remember_threshold(dbapi_connection: Any, record: Any) -> None:
        # Connection.info is this dict: code running statements on the driver
        # directly (bulk.py) finds the threshold there.
        record.info[SLOW_SECONDS] = slow_seconds

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("cell_monitor_query_start", []).append(time.perf_counter())

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        started = conn.info["cell_monitor_query_start"].pop()
        elapsed = time.perf_counter() - started
        observe_query(conn.info, metrics.sql_operation(statement), statement, elapsed)
