"""Migrations shipped in the package, and the server's refusal of an old schema."""

from __future__ import annotations

import asyncio
import sqlite3
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


async def test_sqlite_event_ids_are_never_reused_after_0009(tmp_path: Path) -> None:
    """Revision 0009 keeps every event and execution, and deleted ids stay used."""
    database = tmp_path / "cell-monitor.sqlite3"
    settings = make_settings(f"sqlite:///{database}", tmp_path)
    await migrations.upgrade_async(settings, revision="0008")
    with sqlite3.connect(database, isolation_level=None) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(
            "INSERT INTO students (id, student_key, first_seen, last_seen, event_count,"
            " execution_count, error_count, consecutive_errors, state_version)"
            " VALUES (1, 'ada@example.org', '2026-01-01', '2026-01-01', 3, 3, 0, 0, 1)"
        )
        for pk in (1, 2, 3, 4):
            conn.execute(
                "INSERT INTO events (id, event_id, event_type, event_time, received_at,"
                " student_id, truncated) VALUES (?, ?, 'cell_executed', '2026-01-01',"
                " '2026-01-01', 1, 0)",
                (pk, f"e{pk}"),
            )
            conn.execute(
                "INSERT INTO cell_executions (event_pk, student_id, event_time, has_error)"
                " VALUES (?, 1, '2026-01-01', 0)",
                (pk,),
            )
        conn.execute("DELETE FROM events WHERE id = 4")  # the newest, already passed by a sink
        conn.execute("INSERT INTO sink_positions (name, last_event_pk, updated_at)"
                     " VALUES ('influxdb', 4, '2026-01-01')")  # fmt: skip
    await migrations.upgrade_async(settings)
    with sqlite3.connect(database, isolation_level=None) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        assert conn.execute("SELECT id FROM events ORDER BY id").fetchall() == [(1,), (2,), (3,)]
        assert conn.execute("SELECT event_pk FROM cell_executions ORDER BY 1").fetchall() == [
            (1,), (2,), (3,)
        ]  # fmt: skip
        conn.execute("DELETE FROM events WHERE id = 3")
        conn.execute(
            "INSERT INTO events (event_id, event_type, event_time, received_at, student_id)"
            " VALUES ('e5', 'cell_executed', '2026-01-01', '2026-01-01', 1)"
        )
        # Above the deleted 3 and above 4, which a sink passed before the upgrade.
        assert conn.execute("SELECT id FROM events WHERE event_id = 'e5'").fetchone() == (5,)
        # The cascade still holds on the rebuilt table.
        assert conn.execute("SELECT count(*) FROM cell_executions").fetchone() == (2,)
        index_names = {row[1] for row in conn.execute("PRAGMA index_list(events)")}
    assert {"ix_events_student_time", "ix_events_session_id"} <= index_names
    await asyncio.to_thread(migrations.downgrade, settings, None, "0008")
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT id FROM events ORDER BY id").fetchall() == [(1,), (2,), (5,)]


async def test_0016_drops_the_log_keys_to_notebooks_on_postgresql(
    empty_database_url: str, tmp_path: Path
) -> None:
    """0016 drops the keys from events and cell_executions to notebooks (PostgreSQL
    only); its downgrade sets ids naming no notebook to NULL and adds them back."""
    settings = make_settings(empty_database_url, tmp_path)
    await migrations.upgrade_async(settings)
    engine = create_engine(settings)

    def foreign_keys(conn: Connection) -> set[tuple[str, str]]:
        found = set()
        for table in ("events", "cell_executions"):
            for key in inspect(conn).get_foreign_keys(table):
                found.add((table, key["referred_table"]))
        return found

    try:
        async with engine.begin() as conn:
            keys = await conn.run_sync(foreign_keys)
            if engine.dialect.name == "sqlite":
                # SQLite's schema is the models': its keys stay.
                assert ("events", "notebooks") in keys
                return
            assert ("events", "notebooks") not in keys
            assert ("cell_executions", "notebooks") not in keys
            await conn.exec_driver_sql(
                "INSERT INTO students (id, student_key, first_seen, last_seen)"
                " VALUES (1, 'ada@example.org', now(), now())"
            )
            await conn.exec_driver_sql(
                "INSERT INTO notebooks (id, path, first_seen, last_seen)"
                " VALUES (7, 'kept.ipynb', now(), now())"
            )
            for pk, notebook in ((1, 7), (2, 99)):  # 99 names no notebook
                await conn.exec_driver_sql(
                    "INSERT INTO events (id, event_id, event_type, event_time, received_at,"
                    f" student_id, notebook_id, truncated) VALUES ({pk}, 'e{pk}',"
                    f" 'cell_executed', now(), now(), 1, {notebook}, false)"
                )
        await asyncio.to_thread(migrations.downgrade, settings, None, "0014")
        async with engine.begin() as conn:
            keys = await conn.run_sync(foreign_keys)
            assert {("events", "notebooks"), ("cell_executions", "notebooks")} <= keys
            rows = await conn.exec_driver_sql("SELECT id, notebook_id FROM events ORDER BY id")
            assert rows.all() == [(1, 7), (2, None)]
        await migrations.upgrade_async(settings)
        async with engine.connect() as conn:
            assert ("events", "notebooks") not in await conn.run_sync(foreign_keys)
    finally:
        await engine.dispose()


async def test_0017_indexes_of_the_write_path(empty_database_url: str, tmp_path: Path) -> None:
    """0017 narrows ix_events_type_time to the events but executions and drops
    ix_cell_executions_notebook_time (on PostgreSQL on every partition too); its
    downgrade puts both back as they were."""
    settings = make_settings(empty_database_url, tmp_path)
    await migrations.upgrade_async(settings)
    engine = create_engine(settings)

    async def definitions() -> dict[str, str]:
        if engine.dialect.name == "postgresql":
            query = (
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
                "('events', 'cell_executions', 'events_default', 'cell_executions_default')"
            )
        else:
            query = (
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('events', 'cell_executions')"
            )
        async with engine.connect() as conn:
            rows = (await conn.exec_driver_sql(query)).all()
        return {name: " ".join(sql.split()) for name, sql in rows}

    def on_partition(found: dict[str, str], table: str, columns: str) -> list[str]:
        return [sql for name, sql in found.items() if name.startswith(table) and columns in sql]

    try:
        head = await definitions()
        type_time = head["ix_events_type_time"]
        assert "WHERE" in type_time and "'cell_executed'" in type_time
        assert "ix_cell_executions_notebook_time" not in head
        assert {"ix_events_student_time", "ix_events_notebook_time", "ix_events_time"} <= set(head)
        if engine.dialect.name == "postgresql":
            [on_default] = on_partition(head, "events_default", "(event_type, event_time DESC)")
            assert "WHERE" in on_default
            assert on_partition(head, "cell_executions_default", "(notebook_id, event_time") == []
        await asyncio.to_thread(migrations.downgrade, settings, None, "0016")
        before = await definitions()
        assert "WHERE" not in before["ix_events_type_time"]
        assert "ix_cell_executions_notebook_time" in before
        if engine.dialect.name == "postgresql":
            [on_default] = on_partition(before, "events_default", "(event_type, event_time DESC)")
            assert "WHERE" not in on_default
            notebook_time = on_partition(before, "cell_executions_default", "(notebook_id, event_")
            assert len(notebook_time) == 1
        await migrations.upgrade_async(settings)
        assert await definitions() == head
    finally:
        await engine.dispose()


async def test_0018_drops_the_log_keys_to_students_on_postgresql(
    empty_database_url: str, tmp_path: Path
) -> None:
    """0018 drops the keys from events and cell_executions to students (PostgreSQL
    only); its downgrade deletes the rows naming no student and adds them back,
    cascading as before."""
    settings = make_settings(empty_database_url, tmp_path)
    await migrations.upgrade_async(settings)
    engine = create_engine(settings)

    def foreign_keys(conn: Connection) -> set[tuple[str, str]]:
        return {
            (table, key["referred_table"])
            for table in ("events", "cell_executions", "latest_runs")
            for key in inspect(conn).get_foreign_keys(table)
        }

    async def log_rows() -> list[tuple[str, int, int]]:
        async with engine.connect() as conn:
            rows = await conn.exec_driver_sql(
                "SELECT 'events', id, student_id FROM events UNION ALL "
                "SELECT 'cell_executions', event_pk, student_id FROM cell_executions "
                "ORDER BY 1, 2"
            )
            return [tuple(row) for row in rows]

    try:
        async with engine.begin() as conn:
            keys = await conn.run_sync(foreign_keys)
        if engine.dialect.name == "sqlite":
            assert {("events", "students"), ("cell_executions", "students")} <= keys
            return
        assert ("events", "students") not in keys
        assert ("cell_executions", "students") not in keys
        assert ("latest_runs", "students") in keys  # the other tables keep theirs
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO students (id, student_key, first_seen, last_seen)"
                " VALUES (1, 'ada@example.org', now(), now()), (2, 'bob@example.org', now(), now())"
            )
            for pk, student in ((1, 1), (2, 2), (3, 99)):  # 99 names no student
                await conn.exec_driver_sql(
                    "INSERT INTO events (id, event_id, event_type, event_time, received_at,"
                    f" student_id, truncated) VALUES ({pk}, 'e{pk}', 'cell_executed',"
                    f" now(), now(), {student}, false)"
                )
                await conn.exec_driver_sql(
                    "INSERT INTO cell_executions (event_pk, student_id, event_time, has_error)"
                    f" VALUES ({pk}, {student}, now(), false)"
                )
        await asyncio.to_thread(migrations.downgrade, settings, None, "0017")
        async with engine.begin() as conn:
            keys = await conn.run_sync(foreign_keys)
            assert {("events", "students"), ("cell_executions", "students")} <= keys
        assert await log_rows() == [
            ("cell_executions", 1, 1), ("cell_executions", 2, 2), ("events", 1, 1), ("events", 2, 2)
        ]  # fmt: skip
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DELETE FROM students WHERE id = 2")  # cascades again
        assert await log_rows() == [("cell_executions", 1, 1), ("events", 1, 1)]
        await migrations.upgrade_async(settings)
        async with engine.connect() as conn:
            keys = await conn.run_sync(foreign_keys)
        assert ("events", "students") not in keys
        assert ("cell_executions", "students") not in keys
    finally:
        await engine.dispose()
