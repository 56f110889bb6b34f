"""Migrations shipped in the package, and the server's refusal of an old schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from cell_monitor.config import backend_name
from cell_monitor.server.app import create_app
from cell_monitor.storage import migrations, partitions
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.models import Base
from cell_monitor.storage.startup import StartupError
from tests.support import live_server, make_settings


async def test_upgrade_from_empty_matches_the_models(
    empty_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(empty_database_url, tmp_path)
    await migrations.upgrade_async(settings)
    engine = create_engine(settings)
    try:
        status = await migrations.schema_status(engine)
        assert status.up_to_date and status.current == migrations.head_revision()

        def diff(conn: Connection) -> list:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)

        def indexes(conn: Connection) -> dict[str, list]:
            return {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("events")}

        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
            if backend_name(engine.url) == "postgresql":
                # The partitioned event log is PostgreSQL's own (storage/partitions.py).
                differences = [d for d in differences if not _partitioned_log(d)]
            assert differences == []
            events_indexes = await conn.run_sync(indexes)
        # The user's guide's indexes: (student, time DESC) and (notebook, time DESC).
        assert "ix_events_student_time" in events_indexes
        assert "ix_events_notebook_time" in events_indexes
    finally:
        await engine.dispose()


def _partitioned_log(difference: Any) -> bool:
    """Whether an autogenerate difference concerns the partitioned event log."""
    item = difference[0] if isinstance(difference, list) else difference
    if item[0].startswith("modify_"):
        table = item[2]
    else:
        obj = item[1]
        table = getattr(obj, "name", None) if item[0].endswith("_table") else None
        table = table or getattr(getattr(obj, "table", None), "name", None)
        if table is None and hasattr(obj, "parent"):
            table = obj.parent.name
    return table in {"events", "cell_executions", "event_ids"} or (
        partitions.month_of(table or "") is not None or (table or "").endswith("_default")
    )


async def test_downgrade_and_upgrade_again(empty_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(empty_database_url, tmp_path)
    await migrations.upgrade_async(settings)
    await migrations.upgrade_async(settings, revision="head")  # idempotent
    await asyncio.to_thread(migrations.downgrade, settings)
    engine = create_engine(settings)
    try:
        assert (await migrations.schema_status(engine)).current is None
        await migrations.upgrade_async(settings)
        assert (await migrations.schema_status(engine)).up_to_date
    finally:
        await engine.dispose()


async def test_server_refuses_an_outdated_schema(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    await engine.dispose()
    app = create_app(settings)
    with pytest.raises(StartupError, match=r"revision 0000.*run `cell-monitor db upgrade`"):
        async with app.router.lifespan_context(app):
            pass
    with pytest.raises(RuntimeError, match="did not start"):
        async with live_server(settings):
            pass
