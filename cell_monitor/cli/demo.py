"""`cell-monitor serve --demo`: the server on a demo database, with a simulated class."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from pathlib import Path

import click

from cell_monitor.config import Settings, default_data_dir

DEMO_STUDENTS = 30
DEMO_SPEED = 5.0

log = logging.getLogger(__name__)


# Written into the SQLite file header (PRAGMA application_id) of the database the
# demo creates: a database without it was not made by the demo and is never reset.
DEMO_APPLICATION_ID = 0x434D4430  # "CMD0"

# Whatever the environment or `.env` says, the demo talks to none of the real
# services: its own database, the in-process broker, no InfluxDB.
_DEMO_UNSET = (
    "REDIS_URL",
    "CELL_MONITOR_REDIS_URL",
    "INFLUXDB_URL",
    "CELL_MONITOR_INFLUXDB_URL",
)


def demo_database_path() -> Path:
    return default_data_dir().with_name("cell-monitor-demo") / "cell-monitor.sqlite3"


def use_demo_database() -> Path:
    """A fresh SQLite database of the demo's own (reset at each demo), whatever is configured.

    Environment variables win over `.env` in the settings, so setting them here
    overrides both. Reset at start rather than removed at exit: uvicorn ends the
    process with the signal that stopped it, so exit handlers do not run.
    """
    path = demo_database_path()
    refuse_real_data(path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
        connection.commit()
    finally:
        connection.close()
    url = f"sqlite:///{path}"
    os.environ.update(
        DATABASE_URL=url, CELL_MONITOR_DATABASE_URL=url, CELL_MONITOR_DATA_DIR=str(path.parent)
    )
    for name in _DEMO_UNSET:
        os.environ[name] = ""  # set and empty: also hides a value from `.env`
    click.echo(
        f"demo: using its own database {path} (DATABASE_URL, CELL_MONITOR_DATA_DIR, "
        "REDIS_URL and INFLUXDB_URL from the environment or .env are ignored)",
        err=True,
    )
    return path


def refuse_real_data(path: Path) -> None:
    """Stop unless `path` is absent, made by the demo, or holds no students or events."""
    if not path.exists():
        return
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (application_id,) = connection.execute("PRAGMA application_id").fetchone()
        if application_id == DEMO_APPLICATION_ID:
            return
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        rows = sum(
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("students", "events")
            if table in tables
        )
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(
            f"{path} is not a database the demo made ({exc}); the demo will not replace it. "
            "Move it away to run the demo."
        ) from exc
    finally:
        connection.close()
    if rows:
        raise click.ClickException(
            f"{path} holds real class data (students or events the demo did not create); "
            "the demo never runs against it. Move it away to run the demo."
        )


def start_class(settings: Settings) -> threading.Thread:
    """Simulate a class against the server about to start, in a thread that dies with it."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}"
    thread = threading.Thread(
        target=asyncio.run, args=(_run_class(url),), name="cell-monitor-demo", daemon=True
    )
    thread.start()
    click.echo(
        f"demo: {DEMO_STUDENTS} simulated students work through a lesson at {DEMO_SPEED:g}x "
        f"speed; live class state at {url}/api/v1/live",
        err=True,
    )
    return thread


async def _run_class(url: str) -> None:
    from cell_monitor.cli.simulate import reachable
    from cell_monitor.simulate import ClassProfile, Sender, Simulation
    from cell_monitor.simulate.progress import describe

    sender = Sender(url)
    try:
        await reachable(sender, wait=60)
        final = await Simulation(
            ClassProfile(students=DEMO_STUDENTS, speed=DEMO_SPEED), sender
        ).run()
        log.info("demo class finished: %s", describe(final))
    except Exception:
        log.exception("the demo class stopped")
    finally:
        await sender.aclose()
