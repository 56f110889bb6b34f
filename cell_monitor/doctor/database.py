"""The primary store: reachable with the configured credentials, schema current,
and on PostgreSQL the guide's performance queries (pg_stat_activity, pg_stats,
pg_total_relation_size)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import ConfigError
from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok, skipped
from cell_monitor.doctor.options import DoctorOptions

UPGRADE_FIX = (
    "Run `cell-monitor db upgrade` with the same DATABASE_URL (compose: "
    "`docker compose run --rm migrate`), then restart the workers."
)


@asynccontextmanager
async def engine_for(options: DoctorOptions) -> AsyncIterator[AsyncEngine]:
    from cell_monitor.storage.engine import create_engine

    engine = create_engine(options.settings)
    try:
        yield engine
    finally:
        await engine.dispose()


def sqlite_missing(options: DoctorOptions) -> Path | None:
    """The embedded SQLite file when it does not exist yet (the doctor never creates it)."""
    url = make_url(options.settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path


async def check(options: DoctorOptions) -> CheckResult:
    from cell_monitor.config import describe
    from cell_monitor.storage import migrations
    from cell_monitor.storage.startup import ping

    try:
        where = describe(options.settings.effective_database_url)
    except ConfigError:
        return skipped("database", "DATABASE_URL is invalid (see config.database_url_invalid)")
    missing = sqlite_missing(options)
    if missing is not None:
        return ok("database", f"{where} does not exist yet; `cell-monitor serve` creates it")
    async with engine_for(options) as engine:
        try:
            await ping(engine, options.settings.db_timeout_seconds)
        except Exception as exc:
            return found("database", connection_finding(where, exc))
        status = await migrations.schema_status(engine)
    if status.up_to_date:
        return ok("database", f"{where} answers; schema at {status.head}", revision=status.head)
    return found("database", schema_finding(where, status.current, status.head))


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, wherever SQLAlchemy or asyncpg put it."""
    seen: BaseException | None = exc
    while seen is not None:
        for candidate in (seen, getattr(seen, "orig", None)):
            state = getattr(candidate, "sqlstate", None)
            if isinstance(state, str):
                return state
        seen = seen.__cause__
    return None


def connection_finding(where: str, exc: BaseException) -> Finding:
    from cell_monitor.storage.startup import describe_failure

    reason, state = describe_failure(exc), sqlstate(exc)
    if state in ("28P01", "28000"):
        return Finding(
            id="database.auth_failed",
            urgency=Urgency.high,
            title="PostgreSQL refused the configured credentials",
            detail=f"{where}: {reason}",
            fix="Check the user and password in DATABASE_URL against POSTGRES_USER/"
            "POSTGRES_PASSWORD (`echo $DATABASE_URL`); PostgreSQL keeps the password of its "
            "first start in its volume: ALTER ROLE … PASSWORD '…' or recreate the volume.",
        )
    if state == "3D000":
        return Finding(
            id="database.missing",
            urgency=Urgency.high,
            title="The database named in DATABASE_URL does not exist",
            detail=f"{where}: {reason}",
            fix="Create it (`createdb -O cellmonitor_user cellmonitor_db`) or fix the database "
            "name in DATABASE_URL, then run `cell-monitor db upgrade`.",
        )
    return Finding(
        id="database.unreachable",
        urgency=Urgency.high,
        title="The database does not answer",
        detail=f"{where}: {reason}",
        fix="Check that PostgreSQL runs (`docker compose ps`, `docker compose logs --tail=50 "
        "postgres`) and DATABASE_URL's host and port (postgresql://user:password@host:port/db; "
        "inside compose the host is `postgres`), then `docker compose restart postgres fastapi`.",
    )


def schema_finding(where: str, current: str | None, head: str) -> Finding:
    from alembic.script import ScriptDirectory

    from cell_monitor.storage.migrations import ALEMBIC_DIR

    if current is None:
        return Finding(
            id="database.schema_missing",
            urgency=Urgency.high,
            title="The database has no cell-monitor schema",
            detail=f"{where} is empty or holds another application's tables.",
            fix=UPGRADE_FIX,
        )
    try:
        ScriptDirectory(str(ALEMBIC_DIR)).get_revision(current)
    except Exception:
        return Finding(
            id="database.schema_newer",
            urgency=Urgency.high,
            title="The database was migrated by a newer cell-monitor",
            detail=f"{where} is at revision {current}, unknown to this version (head {head}).",
            fix="Upgrade cell-monitor on this machine to the version the workers run.",
        )
    return Finding(
        id="database.schema_outdated",
        urgency=Urgency.high,
        title="The database schema is behind the code",
        detail=f"{where} is at revision {current}; this version needs {head}.",
        fix=UPGRADE_FIX,
    )
