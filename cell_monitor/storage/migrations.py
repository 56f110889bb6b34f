"""Schema migrations (Alembic, shipped in the package) and the start-up schema check."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings

ALEMBIC_DIR = Path(__file__).with_name("alembic")
UPGRADE_HINT = "run `cell-monitor db upgrade`"


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    has_tables: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self, where: str) -> str:
        if self.current is None:
            state = "has no cell-monitor schema yet"
        else:
            state = f"is at schema revision {self.current}, the code needs {self.head}"
        return f"The database ({where}) {state}: {UPGRADE_HINT}."


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["settings"] = settings
    config.attributes["url"] = url or settings.effective_database_url
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(ALEMBIC_DIR)).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def is_known_revision(revision: str) -> bool:
    """False for a revision this code does not ship (a newer cell-monitor wrote it)."""
    from alembic.script.revision import ResolutionError
    from alembic.util.exc import CommandError

    try:
        return ScriptDirectory(str(ALEMBIC_DIR)).get_revision(revision) is not None
    except (ResolutionError, CommandError):
        return False


def upgrade(settings: Settings, url: str | None = None, revision: str = "head") -> None:
    """Apply migrations up to `revision` (blocking; run it in a thread from async code)."""
    command.upgrade(alembic_config(settings, url), revision)


async def upgrade_async(settings: Settings, url: str | None = None, revision: str = "head") -> None:
    """`upgrade` for async callers (Alembic's env runs its own event loop)."""
    await asyncio.to_thread(upgrade, settings, url, revision)


def downgrade(settings: Settings, url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings, url), revision)


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    async with engine.connect() as connection:

        def _read(sync_connection: Connection) -> tuple[str | None, bool]:
            current = MigrationContext.configure(sync_connection).get_current_revision()
            return current, bool(inspect(sync_connection).get_table_names())

        current, has_tables = await connection.run_sync(_read)
    return SchemaStatus(current=current, head=head_revision(), has_tables=has_tables)
