"""`cell-monitor serve --demo`: the server on a demo database, with a simulated class."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading

import click

from cell_monitor.config import Settings, default_data_dir

DEMO_STUDENTS = 30
DEMO_SPEED = 5.0

log = logging.getLogger(__name__)


def use_demo_database() -> None:
    """A fresh SQLite database in its own folder (reset at each demo), unless one was chosen.

    Reset at start rather than removed at exit: uvicorn ends the process with the
    signal that stopped it, so exit handlers do not run.
    """
    if os.environ.get("DATABASE_URL") or os.environ.get("CELL_MONITOR_DATA_DIR"):
        return
    data_dir = default_data_dir().with_name("cell-monitor-demo")
    shutil.rmtree(data_dir, ignore_errors=True)
    os.environ["CELL_MONITOR_DATA_DIR"] = str(data_dir)


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
