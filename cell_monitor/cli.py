"""The `cell-monitor` command: serve, db upgrade/current, --version."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from cell_monitor import __version__
from cell_monitor.config import ConfigError, Settings

# Options of `serve` and the environment variables they stand for, so that the
# worker processes uvicorn spawns build the same Settings.
_SERVE_ENV = {
    "host": "CELL_MONITOR_HOST",
    "port": "CELL_MONITOR_PORT",
    "workers": "CELL_MONITOR_WORKERS",
    "data_dir": "CELL_MONITOR_DATA_DIR",
    "database_url": "DATABASE_URL",
    "log_level": "CELL_MONITOR_LOG_LEVEL",
}


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or a readable exit naming the variable."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
        settings.effective_database_url  # noqa: B018 - validates DATABASE_URL early
        return settings
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:
                lines.append(f"  {_variable_name(str(error['loc'][0]))}: {message}")
            else:
                lines.append(f"  {message}")
        raise click.ClickException("invalid configuration:\n" + "\n".join(lines)) from exc
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _variable_name(field: str) -> str:
    known = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}
    if field.startswith("influxdb_"):
        return field.upper()
    return known.get(field, f"CELL_MONITOR_{field.upper()}")


@click.group()
@click.version_option(__version__, prog_name="cell-monitor")
def main() -> None:
    """cell-monitor: real-time learning analytics for Jupyter classrooms."""


@main.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--workers", type=int, help="Worker processes (default 1).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Embedded database folder.")
@click.option("--database-url", help="postgresql://… or sqlite:///… (else DATABASE_URL).")
@click.option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
def serve(**options: Any) -> None:
    """Run the server (embedded SQLite unless DATABASE_URL is set)."""
    for name, value in options.items():
        if value is not None:
            os.environ[_SERVE_ENV[name]] = str(value)
    settings = load_settings()
    if settings.workers > 1 and not settings.redis_url:
        raise click.ClickException(
            f"--workers {settings.workers} needs REDIS_URL: the in-process broker cannot carry "
            "live updates between worker processes (set REDIS_URL=redis://host:6379/0)"
        )
    _preflight(settings)
    import uvicorn

    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers are separate processes: metrics add up through files.
        metrics_dir = tempfile.mkdtemp(prefix="cell-monitor-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    click.echo(
        f"cell-monitor {__version__} on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s)); API docs at /docs",
        err=True,
    )
    uvicorn.run(
        "cell_monitor.server.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def _preflight(settings: Settings) -> None:
    """Fail before forking workers when the database is unreachable or outdated."""
    from cell_monitor.logs import configure_logging
    from cell_monitor.server.startup import StartupError, check_database
    from cell_monitor.storage.engine import create_engine

    configure_logging(settings)

    async def _check() -> None:
        engine = create_engine(settings)
        try:
            await check_database(engine, settings)
        finally:
            await engine.dispose()

    try:
        asyncio.run(_check())
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply the schema migrations to DATABASE_URL (or the embedded database)."""
    from cell_monitor.storage import migrations
    from cell_monitor.storage.urls import describe

    settings = load_settings()
    where = describe(settings.effective_database_url)
    try:
        migrations.upgrade(settings, revision=revision)
    except Exception as exc:
        raise click.ClickException(f"migration of {where} failed: {exc}") from exc
    click.echo(f"{where} is at schema revision {migrations.head_revision()}.")


@db.command()
def current() -> None:
    """Show the schema revision of the database and the one the code needs."""
    from cell_monitor.storage import migrations
    from cell_monitor.storage.engine import create_engine

    settings = load_settings()

    async def _status() -> migrations.SchemaStatus:
        engine = create_engine(settings)
        try:
            return await migrations.schema_status(engine)
        finally:
            await engine.dispose()

    try:
        status = asyncio.run(_status())
    except Exception as exc:
        from cell_monitor.server.startup import describe_failure
        from cell_monitor.storage.urls import describe

        where = describe(settings.effective_database_url)
        raise click.ClickException(
            f"Cannot read the schema of {where}: {describe_failure(exc)}"
        ) from exc
    click.echo(f"database: {status.current or 'empty'}; code: {status.head}")
    sys.exit(0 if status.up_to_date else 1)


if __name__ == "__main__":
    main()
