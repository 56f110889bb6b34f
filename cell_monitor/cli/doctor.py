"""`cell-monitor doctor`: diagnose the deployment, grouped by the guide's urgency levels."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

import click

from cell_monitor.cli.settings import load_settings

if TYPE_CHECKING:
    from cell_monitor.doctor.findings import Report


@click.command()
@click.option("--server", "server_url", help="API base URL to probe (default: host/port settings).")
@click.option(
    "--jupyter-origin",
    "jupyter_origins",
    multiple=True,
    help="Origin JupyterLab is served from, for the CORS check (repeatable; default: "
    "Jupyter servers running here).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report on stdout.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per check.")
@click.option(
    "--stale-minutes",
    default=30.0,
    show_default=True,
    help="Report when no event arrived for this long.",
)
@click.option(
    "--slow-query-seconds",
    default=300.0,
    show_default=True,
    help="PostgreSQL statements running longer are reported.",
)
@click.option("--only", multiple=True, help="Run only checks whose name starts with this.")
@click.option("--verbose", is_flag=True, help="Check timings, and tracebacks of failed checks.")
def doctor(
    server_url: str | None,
    jupyter_origins: tuple[str, ...],
    as_json: bool,
    timeout: float,
    stale_minutes: float,
    slow_query_seconds: float,
    only: tuple[str, ...],
    verbose: bool,
) -> None:
    """Run the troubleshooting guide's checks; exit 1 when a high-urgency problem exists."""
    from cell_monitor.doctor.options import DoctorOptions
    from cell_monitor.doctor.render import to_json, to_text
    from cell_monitor.doctor.runner import run_doctor

    try:
        settings = load_settings()
    except click.ClickException as exc:
        # Report it like any finding, so that --json consumers get a report too.
        report = _unloadable(exc.message)
        click.echo(to_json(report) if as_json else to_text(report, verbose))
        sys.exit(1)
    if verbose:
        logging.basicConfig(format="%(name)s: %(message)s")
        logging.getLogger("cell_monitor.doctor").setLevel(logging.DEBUG)
    options = DoctorOptions(
        settings=settings,
        server_url=server_url,
        jupyter_origins=jupyter_origins,
        check_timeout=timeout,
        stale_after_seconds=stale_minutes * 60,
        slow_query_seconds=slow_query_seconds,
        only=only,
    )
    report = asyncio.run(run_doctor(options))
    click.echo(to_json(report) if as_json else to_text(report, verbose))
    sys.exit(0 if report.healthy else 1)


def _unloadable(message: str) -> Report:
    from cell_monitor import __version__
    from cell_monitor.doctor.findings import CheckResult, Finding, Report, Urgency

    finding = Finding(
        id="config.invalid",
        urgency=Urgency.high,
        title="The configuration cannot be loaded; the server would not start",
        detail=message,
        fix="Change the variables named above (environment or .env); "
        "docs/operations.md lists every variable.",
    )
    return Report(version=__version__, results=[CheckResult(check="config", findings=[finding])])
