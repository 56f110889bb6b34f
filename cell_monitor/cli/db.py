"""`cell-monitor db`: schema migrations, status, partitions and retention."""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import timedelta

import click

from cell_monitor.cli.settings import load_settings
from cell_monitor.config import Settings


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply the schema migrations to DATABASE_URL (or the embedded database)."""
    from cell_monitor.config import describe
    from cell_monitor.storage import migrations

    settings = load_settings()
    where = describe(settings.effective_database_url)
    try:
        migrations.upgrade(settings, revision=revision)
        created = asyncio.run(_ensure_partitions(settings))
    except Exception as exc:
        raise click.ClickException(f"migration of {where} failed: {exc}") from exc
    summary = f"{where} is at schema revision {migrations.head_revision()}"
    if created:
        summary += f"; created partitions: {', '.join(created)}"
    click.echo(summary + ".")


async def _ensure_partitions(settings: Settings) -> list[str]:
    """This month's partitions and CELL_MONITOR_PARTITION_MONTHS_AHEAD more (PostgreSQL)."""
    from cell_monitor.cli.progress import progress
    from cell_monitor.storage.engine import create_engine
    from cell_monitor.storage.partitions import ensure_partitions

    engine = create_engine(settings)
    try:
        if engine.dialect.name != "postgresql":
            return []  # SQLite has no partitions: nothing to show
        with progress("db upgrade: monthly partitions", unit="months") as shown:
            return await ensure_partitions(engine, settings.partition_months_ahead, progress=shown)
    finally:
        await engine.dispose()


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
        from cell_monitor.config import describe
        from cell_monitor.storage.startup import describe_failure

        where = describe(settings.effective_database_url)
        raise click.ClickException(
            f"Cannot read the schema of {where}: {describe_failure(exc)}"
        ) from exc
    if status.up_to_date:
        verdict = "up to date"
    elif status.current and not migrations.is_known_revision(status.current):
        verdict = (
            "unknown revision: a newer cell-monitor may have upgraded it; install that version"
        )
    else:
        verdict = "behind: run cell-monitor db upgrade"
    click.echo(f"database: {status.current or 'empty'}; code: {status.head}; {verdict}")
    sys.exit(0 if status.up_to_date else 1)


def parse_age(value: str) -> timedelta:
    """`180d`, `26w`, `12h` (or a bare number of days) as a timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([dwh]?)\s*", value.lower())
    if match is None or int(match[1]) <= 0:
        raise click.BadParameter(f"{value!r}: give a positive age such as 180d, 26w or 12h")
    unit = {"d": "days", "": "days", "w": "weeks", "h": "hours"}[match[2]]
    return timedelta(**{unit: int(match[1])})


@db.command()
@click.option(
    "--older-than",
    "older_than",
    required=True,
    help="Age of what goes: 180d (the user's guide's six months), 26w, 12h.",
)
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
def prune(older_than: str, dry_run: bool) -> None:
    """Delete student data older than an age (what goes: docs/retention.md)."""
    from cell_monitor.cli.progress import Reporter, progress
    from cell_monitor.config import describe
    from cell_monitor.storage.engine import create_engine
    from cell_monitor.storage.retention import PruneReport
    from cell_monitor.storage.retention import prune as prune_store

    age = parse_age(older_than)
    # Counting and dropping month partitions of a large log outlasts the ingest timeout.
    settings = load_settings().model_copy(update={"db_command_timeout_seconds": 3600.0})

    async def _prune(shown: Reporter) -> PruneReport:
        engine = create_engine(settings)
        try:
            return await prune_store(engine, settings, age, dry_run=dry_run, progress=shown)
        finally:
            await engine.dispose()

    title = "db prune (dry run)" if dry_run else "db prune"
    with progress(title, unit="rows counted" if dry_run else "rows removed") as shown:
        try:
            report = asyncio.run(_prune(shown))
        except Exception as exc:
            where = describe(settings.effective_database_url)
            raise click.ClickException(f"prune of {where} failed: {exc}") from exc
        shown.stop()
        click.echo("\n".join(report.lines()))
        shown.finish(report.summary())
