"""`cell-monitor db`: schema migrations and status."""

from __future__ import annotations

import asyncio
import sys

import click

from cell_monitor.cli.settings import load_settings


@click.group()
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
