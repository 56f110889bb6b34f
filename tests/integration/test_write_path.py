"""The group write's stored rows against a recomputation from the events themselves.

The write path binds values itself (SQLite's multi-row statements, PostgreSQL's
arrays) and updates only the live-state columns a group changed; what it
stores must be what the events say, whichever columns each group touched.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from cell_monitor.domain.live_status import LiveState, apply_events
from cell_monitor.ingest.parse import validate_batch
from cell_monitor.storage import writer
from cell_monitor.storage.engine import WRITE_TX, create_engine
from cell_monitor.storage.live_rows import STATE_COLUMNS, state_from_row
from cell_monitor.storage.models import (
    CellExecution,
    Event,
    EventTypeCount,
    InstructorAction,
    Notebook,
    Student,
)
from cell_monitor.storage.writer import GroupResult
from tests.support import event, make_settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
# The tables every commit updates rows of (revisions 0019, 0020).
TABLES = ("students", "latest_runs", "notebook_students")


def _groups() -> list[list[dict]]:
    """Groups that change different columns: runs, errors, help, engagement, a new student."""
    at = iter(START + timedelta(seconds=n) for n in range(1000))

    def run(student: str, **fields: object) -> dict:
        return event(
            emailAddress=f"{student}@example.org",
            eventTime=next(at).isoformat(),
            userName=student.title(),
            **fields,
        )

    failing = {"hasError": True, "errorName": "NameError", "errorMessage": "x", "result": None}
    return [
        [run("ada"), run("bob", cellIndex=3), run("ada", cellIndex=1, **failing)],
        [run("ada", cellIndex=1, **failing), run("bob", cellIndex=4, cellId="c4")],
        [run("ada", eventType="help", cellIndex=None, code=None, hasError=None)],
        [run("bob", cellIndex=3, teamName="B"), run("cyd", notebookPath="other.ipynb")],
        [run("ada", cellIndex=1)],
        [run("bob", eventType="engagement", visible=False, cellIndex=None, code=None)],
        [run("ada", eventType="help_stop", cellIndex=None, code=None, hasError=None)],
    ]


async def test_stored_states_equal_the_events_replayed(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})
    replayed: dict[str, LiveState] = {}
    sent = 0
    try:
        for items in _groups():
            events = validate_batch(items, settings).events
            assert len(events) == len(items)
            sent += len(events)
            async with engine.begin() as conn:
                result = await writer.write_group(conn, events)
            assert {o.value for o in result.outcomes} == {"inserted"}
            # One step per student and group (the version counts commits), in eventId order.
            for key in {e.student_key for e in events}:
                mine = sorted((e for e in events if e.student_key == key), key=lambda e: e.event_id)
                replayed[key] = apply_events(replayed.get(key) or LiveState(student=key), mine)
            for before, after in result.changes:
                assert after == replayed[after.student]
                assert before is None or before.version < after.version
        async with engine.connect() as conn:
            rows = (await conn.execute(select(*STATE_COLUMNS))).all()
            stored = {s.student: s for s in map(state_from_row, rows)}
            events_stored = len((await conn.execute(select(Event.id))).all())
            executions = (await conn.execute(select(CellExecution.event_time))).scalars().all()
            first_seen = select(Student.student_key, Student.first_seen)
            firsts = dict((await conn.execute(first_seen)).all())
    finally:
        await engine.dispose()
    assert stored == replayed
    assert events_stored == sent
    # Times go through the write path's own binding: back as the same aware UTC values.
    assert min(executions) == START and all(t.tzinfo is not None for t in executions)
    assert firsts["ada@example.org"] == START


async def test_a_group_gives_its_identity_even_when_its_events_were_stored_before(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})
    first = event(eventId="run-1", userName="Ada", teamName="A", userId="u-1")

    async def write(*items: dict) -> GroupResult:
        async with engine.begin() as conn:
            return await writer.write_group(conn, validate_batch(list(items), settings).events)

    async def stored() -> tuple:
        identity = select(
            Student.email_address, Student.user_id, Student.user_name, Student.team_name
        )
        async with engine.connect() as conn:
            row = (await conn.execute(identity)).one()
            state = state_from_row((await conn.execute(select(*STATE_COLUMNS))).one())
        return tuple(row), state

    try:
        await write(first)
        _, state = await stored()
        # The same event again, sent under a new name and team: nothing is counted twice,
        # the identity follows.
        resent = await write({**first, "userName": "Ada L.", "teamName": "B"})
        assert [o.value for o in resent.outcomes] == ["duplicate"] and not resent.changes
        identity, again = await stored()
        assert identity == ("ada@example.org", "u-1", "Ada L.", "B")
        assert again == state.__class__(**{**vars(state), "user_name": "Ada L.", "team_name": "B"})
        # Events that say nothing of the team keep the stored one; `before` has it.
        later = await write(event(userName=None, teamName=None, userId=None))
        [(before, after)] = later.changes
        assert before is not None and (before.user_name, before.team_name) == ("Ada L.", "B")
        assert before.version == state.version and after.version == state.version + 1
        identity, _ = await stored()
        assert identity == ("ada@example.org", "u-1", "Ada L.", "B")
    finally:
        await engine.dispose()


# How long a group is given to go ahead (wrongly) while another holds its student.
WAIT_SECONDS = 1


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("existing", [False, True], ids=["new student", "existing student"])
async def test_concurrent_groups_of_a_student_apply_one_after_the_other(
    database_url: str, tmp_path: Path, existing: bool
) -> None:
    # The second group waits for the first's row (inserted or locked, not yet
    # committed), then reads what it committed: no count is lost, whether the
    # student was new to both (the second finds the row the first inserted) or not.
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})

    def events_of(*students: str) -> list:
        items = [event(emailAddress=f"{s}@example.org") for s in students]
        return validate_batch(items, settings).events

    async def second_group() -> GroupResult:
        async with engine.begin() as conn:
            return await writer.write_group(conn, events_of("ada", "bob"))

    try:
        if existing:
            async with engine.begin() as conn:
                await writer.write_group(conn, events_of("ada"))
        async with engine.connect() as first:
            transaction = await first.begin()
            await writer.write_group(first, events_of("ada"))
            second = asyncio.create_task(second_group())
            done, _ = await asyncio.wait({second}, timeout=WAIT_SECONDS)
            assert not done, "a group went ahead while another held its student"
            await transaction.commit()
        result = await second
        async with engine.connect() as conn:
            rows = (await conn.execute(select(*STATE_COLUMNS))).all()
    finally:
        await engine.dispose()
    before, _ = result.changes[0]
    runs = 3 if existing else 2
    assert before is not None and before.event_count == runs - 1
    states = {s.student: s for s in map(state_from_row, rows)}
    assert states["ada@example.org"].event_count == runs
    assert states["ada@example.org"].version == runs
    assert states["bob@example.org"].event_count == 1


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_rows_naming_a_student_are_not_held_up_by_a_group_in_flight(
    database_url: str, tmp_path: Path
) -> None:
    # A group locks its students as an UPDATE of their state does (not their key):
    # another transaction's rows referencing the student (its foreign key's check)
    # go ahead meanwhile.
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})

    def events() -> list:
        return validate_batch([event()], settings).events

    async def record_an_action(student_id: int) -> None:
        async with engine.begin() as conn:
            values = {"student_id": student_id, "action": "note", "actor": "ta", "at": START}
            await conn.execute(insert(InstructorAction).values(**values))

    try:
        async with engine.begin() as conn:
            await writer.write_group(conn, events())
        async with engine.connect() as group:
            transaction = await group.begin()
            result = await writer.write_group(group, events())
            assert result.changes
            student_id = (await group.execute(select(Student.id))).scalar_one()
            action = asyncio.create_task(record_an_action(student_id))
            done, _ = await asyncio.wait({action}, timeout=WAIT_SECONDS)
            await transaction.commit()
        assert done, "a row naming the student waited for the group's commit"
        await action
    finally:
        await engine.dispose()


async def test_a_notebooks_last_seen_follows_its_latest_event_and_no_late_one(
    database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL advances last_seen in the group's last statement, with the shared
    counters; SQLite in the notebooks' upsert. Either way: the latest time stored."""
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})

    def at(minutes: int, **fields: object) -> dict:
        return event(eventTime=(START + timedelta(minutes=minutes)).isoformat(), **fields)

    groups = [
        [at(0), at(1, notebookPath="other.ipynb")],
        [at(5), at(2, eventType="notebook_saved", cellIndex=None, code=None)],
        [at(3), at(4, notebookPath="other.ipynb")],  # late for one notebook, not the other
        [at(1, eventType="notebook_opened", cellIndex=None, code=None)],  # late: no execution
    ]
    try:
        for items in groups:
            async with engine.begin() as conn:
                await writer.write_group(conn, validate_batch(items, settings).events)
        async with engine.connect() as conn:
            seen = dict((await conn.execute(select(Notebook.path, Notebook.last_seen))).all())
            types = (await conn.execute(select(EventTypeCount.events))).scalars().all()
    finally:
        await engine.dispose()
    assert seen == {
        "lesson1.ipynb": START + timedelta(minutes=5),
        "other.ipynb": START + timedelta(minutes=4),
    }
    # The counters of the same statement took every stored event.
    assert sum(types) == 7


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_each_commit_updates_the_rows_of_its_students_in_place(
    database_url: str, tmp_path: Path
) -> None:
    """Every commit updates the row of each of its students, and their latest_runs
    and notebook_students rows: PostgreSQL can do it without new entries in the
    tables' indexes while the page has room for the new version (fillfactor,
    revisions 0019 and 0020) and no indexed column changes; in latest_runs only
    `failed` is (the heatmap's covering index), so a run that turns its cell
    from passed to failed is the one update not in place."""
    settings = make_settings(database_url, tmp_path)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})
    at = iter(START + timedelta(seconds=n) for n in range(10_000))
    students = [f"s{n}@example.org" for n in range(60)]  # several pages of rows

    def runs(**fields: object) -> list:
        items = [event(emailAddress=s, eventTime=next(at).isoformat(), **fields) for s in students]
        return validate_batch(items, settings).events

    failing = {"hasError": True, "errorName": "NameError", "errorMessage": "x", "result": None}
    try:
        async with engine.connect() as conn:
            options = dict(
                (
                    await conn.exec_driver_sql(
                        "SELECT relname, array_to_string(reloptions, ',') FROM pg_class"
                        f" WHERE relname IN {TABLES}"
                    )
                ).all()
            )
            await conn.commit()
            assert options == {
                "students": "fillfactor=50",
                "latest_runs": "fillfactor=70",
                "notebook_students": "fillfactor=70",
            }
            groups = [runs() for _ in range(8)] + [runs(**failing)]
            for group in groups:  # inserted, 7 more passing runs, then failing ones
                async with conn.begin():  # one commit each, as the committer's
                    await writer.write_group(conn, group)
            # This backend's counts reach the shared statistics once it is idle.
            await conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            await conn.commit()
            counts = (
                await conn.exec_driver_sql(
                    "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                    f" WHERE relname IN {TABLES}"
                )
            ).all()
            updated = {table: changed for table, changed, _ in counts}
            in_place = {table: hot for table, _, hot in counts}
    finally:
        await engine.dispose()
    assert updated["students"] >= 8 * len(students)
    assert updated["latest_runs"] == 8 * len(students)  # one cell each, run 8 more times
    assert updated["notebook_students"] == 8 * len(students)
    for table in ("students", "notebook_students"):
        assert in_place[table] >= 0.9 * updated[table], table
    # The 7 passing reruns in place, the failing ones not.
    assert 0.9 * 7 * len(students) <= in_place["latest_runs"] <= 7 * len(students)
