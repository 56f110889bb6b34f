"""The group write's stored rows against a recomputation from the events themselves.

The write path binds values itself (SQLite's multi-row statements, PostgreSQL's
arrays) and updates only the live-state columns a group changed; what it
stores must be what the events say, whichever columns each group touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from cell_monitor.domain.live_status import LiveState, apply_events
from cell_monitor.ingest.parse import validate_batch
from cell_monitor.storage import writer
from cell_monitor.storage.engine import WRITE_TX, create_engine
from cell_monitor.storage.live_rows import STATE_COLUMNS, state_from_row
from cell_monitor.storage.models import CellExecution, Event, Student
from tests.support import event, make_settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


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
