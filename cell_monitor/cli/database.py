"""Run one coroutine against the configured database, for CLI commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.cli.settings import load_settings

T = TypeVar("T")


def run_with_engine(action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """`action(engine)` on a checked, current schema; readable exits on failure."""
    from cell_monitor.accounts.users import AccountError
    from cell_monitor.storage.engine import create_engine
    from cell_monitor.storage.startup import StartupError, check_database

    settings = load_settings()

    async def _run() -> T:
        engine = create_engine(settings)
        try:
            await check_database(engine, settings)
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_run())
    except (StartupError, AccountError) as exc:
        raise click.ClickException(str(exc)) from exc
