"""`cell-monitor serve`: check the database, then run uvicorn with N workers."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from cell_monitor import __version__
from cell_monitor.cli.settings import load_settings
from cell_monitor.config import Settings, env_name
from cell_monitor.server.supervision import SUPERVISOR_PID_ENV


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--workers", type=int, help="Worker processes (default 1).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Embedded database folder.")
@click.option("--database-url", help="postgresql://… or sqlite:///… (else DATABASE_URL).")
@click.option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
@click.option(
    "--demo",
    is_flag=True,
    help="A simulated class on a throwaway database of its own (never DATABASE_URL's).",
)
def serve(demo: bool, **options: Any) -> None:
    """Run the server (embedded SQLite unless DATABASE_URL is set)."""
    if demo and (options["database_url"] or options["data_dir"]):
        raise click.UsageError(
            "--demo always uses a database of its own; drop --database-url/--data-dir"
        )
    # Options become the environment variables they stand for, so that the
    # worker processes uvicorn spawns build the same Settings.
    for name, value in options.items():
        if value is not None:
            os.environ[env_name(name)] = str(value)
    if demo:
        import cell_monitor.cli.demo as demo_mode

        demo_mode.use_demo_database()
    settings = load_settings()
    if settings.workers > 1 and not settings.redis_url:
        raise click.ClickException(
            f"--workers {settings.workers} needs REDIS_URL: the in-process broker cannot carry "
            "live updates between worker processes (set REDIS_URL=redis://host:6379/0)"
        )
    _preflight(settings)
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers are separate processes: metrics add up through files.
        metrics_dir = tempfile.mkdtemp(prefix="cell-monitor-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if settings.workers > 1:
        # The workers exit when this process dies (cell_monitor/server/supervision.py).
        os.environ[SUPERVISOR_PID_ENV] = str(os.getpid())
    if demo:
        demo_mode.start_class(settings)
    click.echo(
        f"cell-monitor {__version__} on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s)); API docs at /docs",
        err=True,
    )
    _run(settings)


def _run(settings: Settings) -> None:
    """uvicorn.run, with the server configuration of cell_monitor/server/http.py."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from cell_monitor.server.http import server_config

    config = server_config(
        "cell_monitor.server.app:create_app_from_env",
        settings,
        factory=True,
        workers=settings.workers,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if config.workers == 1 and not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE: the log above says why


def _preflight(settings: Settings) -> None:
    """Fail before forking workers when the database is unreachable or outdated."""
    from cell_monitor.accounts.safety import (
        UnsafeConfiguration,
        check_production,
        ensure_first_account,
    )
    from cell_monitor.logs import configure_logging
    from cell_monitor.storage.engine import create_engine
    from cell_monitor.storage.startup import StartupError, check_database

    configure_logging(settings)

    async def _check() -> None:
        engine = create_engine(settings)
        try:
            await check_database(engine, settings)
            # Here, before the workers fork: a generated password is printed once.
            await ensure_first_account(engine, settings)
        finally:
            await engine.dispose()

    try:
        check_production(settings)
        asyncio.run(_check())
    except (StartupError, UnsafeConfiguration) as exc:
        raise click.ClickException(str(exc)) from exc
