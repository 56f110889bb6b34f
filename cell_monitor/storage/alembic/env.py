"""Alembic environment: runs the package's migrations on the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from cell_monitor.config import Settings
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.models import Base

config = context.config
MIGRATION_TIMEOUT = 24 * 3600.0


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run() -> None:
    settings: Settings = config.attributes.get("settings") or Settings()
    url: str = config.attributes.get("url") or settings.effective_database_url
    # Copying a large table (0005) takes minutes: no per-statement timeout here.
    settings = settings.model_copy(update={"db_command_timeout_seconds": MIGRATION_TIMEOUT})
    engine = create_engine(settings, url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("cell-monitor migrations run online only: use `cell-monitor db upgrade`")
asyncio.run(_run())
