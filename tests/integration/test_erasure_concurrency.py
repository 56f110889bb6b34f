"""Erasing a student while another student's events are being stored.

Erasure deletes the notebooks that only the erased student used. A write group
in flight may just have looked up such a notebook for another student's first
events in it: the erasure must wait for that group, then see its events and
keep the notebook (on PostgreSQL no foreign key from the event log to notebooks
would stop it otherwise). Likewise a group in flight for the erased student
itself: on PostgreSQL no foreign key from the event log to students would
cascade to the rows it commits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from cell_monitor.ingest.parse import validate_batch
from cell_monitor.privacy.erasure import erase_from_database
from cell_monitor.storage import notebook_guard, writer
from cell_monitor.storage.engine import WRITE_TX, create_engine
from cell_monitor.storage.models import CellExecution, Event, Notebook, Student
from tests.support import event, make_settings

# How long the erasure is given to finish (wrongly) while the group is open.
WAIT_SECONDS = 2


async def test_an_erasure_waits_for_the_group_that_names_its_notebook(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})

    def events_of(student: str) -> list:
        items = [event(emailAddress=f"{student}@example.org", notebookPath="solo.ipynb")]
        return validate_batch(items, settings).events

    try:
        async with engine.begin() as conn:
            await writer.write_group(conn, events_of("ada"))  # only ada used solo.ipynb
        async with engine.connect() as group:
            transaction = await group.begin()
            await writer.write_group(group, events_of("bob"))  # not committed yet
            erasure = asyncio.create_task(erase_from_database(engine, ["ada@example.org"]))
            done, _ = await asyncio.wait({erasure}, timeout=WAIT_SECONDS)
            assert not done, "the erasure went ahead while a group naming the notebook was open"
            await transaction.commit()
        found, counts = await erasure
        assert found == ["ada@example.org"]
        assert counts["notebooks"] == 0  # bob's events name it now
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Event.id, Notebook.path).join(
                        Notebook, Notebook.id == Event.notebook_id, isouter=True
                    )
                )
            ).all()
        assert [path for _, path in rows] == ["solo.ipynb"]
    finally:
        await engine.dispose()


async def test_an_erasure_waits_for_a_group_that_has_only_begun(
    database_url: str, tmp_path: Path
) -> None:
    # The moment the scenario above cannot pin down: the group has looked up the
    # notebook and holds no row lock the erasure needs yet.
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})
    items = [event(emailAddress="ada@example.org", notebookPath="solo.ipynb")]
    try:
        async with engine.begin() as conn:
            await writer.write_group(conn, validate_batch(items, settings).events)
        async with engine.connect() as group:
            transaction = await group.begin()
            await notebook_guard.writing_group(group)
            erasure = asyncio.create_task(erase_from_database(engine, ["ada@example.org"]))
            done, _ = await asyncio.wait({erasure}, timeout=WAIT_SECONDS)
            assert not done, "the erasure went ahead while a write group was open"
            await transaction.commit()
        _, counts = await erasure
        assert counts["notebooks"] == 1  # nobody else used it
    finally:
        await engine.dispose()


async def test_an_erasure_takes_the_rows_of_a_group_in_flight_for_that_student(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})

    def events_of(count: int) -> list:
        items = [event(emailAddress="ada@example.org") for _ in range(count)]
        return validate_batch(items, settings).events

    try:
        async with engine.begin() as conn:
            await writer.write_group(conn, events_of(2))
        async with engine.connect() as group:
            transaction = await group.begin()
            await writer.write_group(group, events_of(3))  # not committed yet
            erasure = asyncio.create_task(erase_from_database(engine, ["ada@example.org"]))
            done, _ = await asyncio.wait({erasure}, timeout=WAIT_SECONDS)
            assert not done, "the erasure went ahead while a group of the student was open"
            await transaction.commit()
        found, counts = await erasure
        assert found == ["ada@example.org"]
        assert (counts["events"], counts["cell_executions"], counts["students"]) == (5, 5, 1)
        async with engine.connect() as conn:
            for table in (Event, CellExecution, Student):
                left = await conn.scalar(select(func.count()).select_from(table))
                assert left == 0, f"{table.__tablename__} kept {left} rows of the erased student"
    finally:
        await engine.dispose()
