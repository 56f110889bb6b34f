"""Checks before serving: the database answers and its schema is current."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings, backend_name, describe
from cell_monitor.storage import migrations

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The server cannot start; the message tells the operator what to do."""


async def ping(engine: AsyncEngine, timeout: float) -> None:
    """One round trip to the database, bounded in time."""

    async def _round_trip() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    await asyncio.wait_for(_round_trip(), timeout)


async def write_probe(engine: AsyncEngine, timeout: float) -> None:
    """Commit one real write, bounded in time: fails on a full disk or a read-only database.

    It rewrites Alembic's version row with its own value, so it changes nothing
    that anyone reads. `engine` should be the committer's (write transactions).
    """

    async def _write() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = version_num"))

    await asyncio.wait_for(_write(), timeout)


async def check_database(engine: AsyncEngine, settings: Settings) -> None:
    """Raise StartupError unless the database is reachable and its schema current.

    A brand-new embedded SQLite file is migrated here, so that the first
    `cell-monitor serve` works with no other step; any other database is only
    ever migrated by `cell-monitor db upgrade`.
    """
    where = describe(engine.url)
    try:
        await ping(engine, settings.db_timeout_seconds)
    except Exception as exc:
        raise StartupError(
            f"Cannot connect to {where}: {describe_failure(exc)}. Check DATABASE_URL "
            "(postgresql://user:password@host:port/database) and that the server is running."
        ) from exc
    status = await migrations.schema_status(engine)
    if status.up_to_date:
        return
    if backend_name(engine.url) == "sqlite" and not status.has_tables:
        log.info("Creating the cell-monitor schema in %s", where)
        url = engine.url.render_as_string(hide_password=False)
        await migrations.upgrade_async(settings, url)
        return
    raise StartupError(status.describe(where))


def describe_failure(exc: BaseException) -> str:
    """One line saying why talking to the database failed."""
    if isinstance(exc, TimeoutError):
        return "no answer within the connect timeout"
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    return text_.splitlines()[0] if text_ else type(exc).__name__
