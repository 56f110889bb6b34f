"""Run every check concurrently, each bounded in time; one failing check never stops the rest."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Awaitable, Callable

from cell_monitor import __version__
from cell_monitor.doctor import (
    api,
    config,
    database,
    flow,
    hub,
    influx,
    jupyter,
    pg_performance,
    ports,
    redis,
    websocket,
)
from cell_monitor.doctor.findings import CheckResult, Finding, Report, Urgency
from cell_monitor.doctor.options import DoctorOptions

log = logging.getLogger(__name__)

Check = Callable[[DoctorOptions], Awaitable[CheckResult]]

# Name → check, in the order of the report; names are the prefixes of finding ids.
CHECKS: dict[str, Check] = {
    "config": config.check,
    "ports": ports.check,
    "database": database.check,
    "database.performance": pg_performance.check,
    "redis": redis.check,
    "influx": influx.check,
    "jupyterhub": hub.check,
    "api": api.check,
    "api.cors": api.check_cors,
    "api.websocket": websocket.check,
    "jupyter": jupyter.check,
    "flow": flow.check,
}


async def run_check(name: str, check: Check, options: DoctorOptions) -> CheckResult:
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(check(options), options.check_timeout)
    except asyncio.TimeoutError:
        result = CheckResult(check=name, findings=[_timed_out(name, options.check_timeout)])
    except Exception as exc:  # a bug or an unexpected answer must not hide the other checks
        log.debug("check %s failed", name, exc_info=True)
        result = CheckResult(check=name, findings=[_crashed(name, exc)])
    result.seconds = round(time.monotonic() - started, 3)
    return result


# Imported before the checks start: an import runs on the event loop and would
# eat into every concurrent check's time budget.
_WARM_UP = (
    "asyncpg",
    "redis.asyncio",
    "alembic.script",
    "cell_monitor.storage.startup",
    "cell_monitor.sinks.influx.api",
    "cell_monitor.storage.engine",
    "cell_monitor.storage.migrations",
    "cell_monitor.storage.models",
)


def warm_up() -> None:
    for module in _WARM_UP:
        # Optional backends may be missing: the check that needs one reports it.
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


async def run_doctor(options: DoctorOptions) -> Report:
    """Every check (or those named in `options.only`), concurrently."""
    await asyncio.to_thread(warm_up)
    selected = {
        name: check
        for name, check in CHECKS.items()
        if not options.only or any(name.startswith(prefix) for prefix in options.only)
    }
    results = await asyncio.gather(
        *(run_check(name, check, options) for name, check in selected.items())
    )
    return Report(version=__version__, results=list(results))


def _timed_out(name: str, seconds: float) -> Finding:
    return Finding(
        id="doctor.check_timeout",
        urgency=Urgency.medium,
        title=f"The {name} check did not finish within {seconds:g}s",
        detail="A service answers very slowly or a firewall drops packets instead of refusing.",
        fix="Run the check again with a longer --timeout; check the network path to the "
        "service it probes.",
    )


def _crashed(name: str, exc: BaseException) -> Finding:
    return Finding(
        id="doctor.check_failed",
        urgency=Urgency.medium,
        title=f"The {name} check could not run",
        detail=f"{type(exc).__name__}: {exc}",
        fix="Run `cell-monitor doctor --verbose` for the traceback and report it.",
    )
