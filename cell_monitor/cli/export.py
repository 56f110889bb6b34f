"""`cell-monitor export`: a course or a session as files for pandas/polars."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from cell_monitor.cli.settings import load_settings
from cell_monitor.cli.student import _run


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="parquet needs the analysis extra (pyarrow)",
)
@click.option("--since", type=click.DateTime(), help="events at or after (UTC when no offset)")
@click.option("--until", type=click.DateTime(), help="events before")
@click.option("--notebook", help="only this notebookPath")
@click.option("--team", help="only this teamName")
def export(
    directory: Path,
    fmt: str,
    since: datetime | None,
    until: datetime | None,
    notebook: str | None,
    team: str | None,
) -> None:
    """Write students, events and executions into DIRECTORY (see docs/analysis.md)."""
    from cell_monitor.domain.live_status import thresholds_of
    from cell_monitor.reports.analysis_export import Format, ParquetUnavailable, write_analysis
    from cell_monitor.reports.csv_export import ExportFilters

    settings = load_settings()
    filters = ExportFilters(team=team, notebook=notebook, since=_utc(since), until=_utc(until))
    try:
        counts = _run(
            settings,
            lambda engine: write_analysis(
                engine,
                directory,
                filters,
                Format(fmt),
                datetime.now(timezone.utc),
                thresholds_of(settings),
            ),
        )
    except ParquetUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    rows = ", ".join(f"{name} ({n} rows)" for name, n in counts.items())
    click.echo(f"Wrote {len(counts)} {fmt} files to {directory}: {rows}")


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)
