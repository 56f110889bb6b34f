"""Writing one group of events in one transaction, exactly once per eventId.

Rows are touched in a fixed order (students, notebooks, sessions, events with
their executions, then the report tables; keys sorted within each) so that concurrent
transactions of several workers lock the same rows in the same order and cannot
deadlock each other. Rows that every group shares are locked last, right before
COMMIT (on PostgreSQL in one statement): the report tables' counters (sharded),
then the notebooks' last_seen (report_tables.add_shared); what comes before touches only
the group's own students' rows (which the committer's buckets keep apart,
ingest/committer.py) or inserts.
The statements themselves are in bulk.py, one implementation per database.

Extension point: a new event type with rows of its own (or a per-event side
effect) adds a step in `write_group` between the executions and the live
states, taking the stored events (`stored`: only those whose eventId was new,
their `pk` set) and the ids resolved above; rows keyed by student belong there,
shared counters go in report_tables.SharedRows (sharded, after everything else).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.domain.live_status import LiveState, apply_events
from cell_monitor.domain.records import NewEvent, WriteOutcome
from cell_monitor.storage import (
    help_rows,
    message_receipts,
    notebook_guard,
    report_tables,
    signal_tables,
)
from cell_monitor.storage.bulk import Bulk, bulk_for
from cell_monitor.storage.live_rows import (
    IDENTITY_COLUMNS,
    LOCKED_COLUMNS,
    changed_columns,
    state_fields,
    state_from_locked,
)

_K = TypeVar("_K")


@dataclass
class GroupResult:
    outcomes: list[WriteOutcome]  # one per event, in order
    # (before, after) live state of each student who has new events; before is
    # None for a student seen for the first time.
    changes: list[tuple[LiveState | None, LiveState]] = field(default_factory=list)


async def write_group(conn: AsyncConnection, events: Sequence[NewEvent]) -> GroupResult:
    """Store `events` (inside the caller's transaction) and update live states."""
    first_of: dict[str, NewEvent] = {}
    for event in events:
        first_of.setdefault(event.event_id, event)
    unique = [first_of[event_id] for event_id in sorted(first_of)]
    bulk = bulk_for(conn)

    by_student = _by_student(unique)

    await notebook_guard.writing_group(conn)
    students = await _lock_students(conn, bulk, by_student)
    student_ids = {key: student.pk for key, student in students.items()}
    notebook_ids = await _upsert_notebooks(conn, bulk, unique)
    session_ids = await _upsert_sessions(conn, bulk, unique, student_ids)
    inserted = await _insert_events(conn, bulk, unique, student_ids, notebook_ids, session_ids)
    stored = []
    for event in unique:
        pk = inserted.get(event.event_id)
        if pk is not None:
            event.pk = pk
            stored.append(event)
    if len(stored) < len(unique):
        by_student = _by_student(stored)
    changes = await _store_states(conn, bulk, by_student, students)
    # Help requests follow the help state, in the same transaction (help_rows.py).
    await help_rows.record(
        conn,
        [
            help_rows.HelpChange(student_ids[a.student], b, a)
            for b, a in changes
            if help_rows.help_changed(b, a)  # the only changes it acts on
        ],
    )
    # What the dashboard's views read, in the same transaction (report_tables.py).
    shared = await report_tables.record(conn, stored, student_ids, notebook_ids)
    # Students' answers to messages: durable with their events.
    await message_receipts.record(conn, stored, student_ids)
    await signal_tables.record(conn, stored, student_ids, notebook_ids)
    # Last: the counters and the notebooks' last_seen, rows every group shares.
    await report_tables.add_shared(conn, shared)

    outcomes = []
    for event in events:
        mine = first_of[event.event_id] is event and event.event_id in inserted
        outcomes.append(WriteOutcome.inserted if mine else WriteOutcome.duplicate)
    return GroupResult(outcomes, changes)


def _by_student(events: Sequence[NewEvent]) -> dict[str, list[NewEvent]]:
    by_student: dict[str, list[NewEvent]] = defaultdict(list)
    for event in events:
        by_student[event.student_key].append(event)
    return by_student


@dataclass
class _Student:
    """A student of the group, locked, as stored but for the identity the group gives."""

    pk: int
    identity: dict[str, Any]  # IDENTITY_COLUMNS: the group's latest value, else the stored one
    renamed: list[str]  # the identity columns the group changes
    stored: LiveState  # the stored live state, with that identity

    @property
    def before(self) -> LiveState | None:
        return self.stored if self.stored.version else None


async def _lock_students(
    conn: AsyncConnection, bulk: Bulk, by_student: dict[str, list[NewEvent]]
) -> dict[str, _Student]:
    """Create missing students and lock every one; key → what is stored of it.
    Existing rows are written once, by `_store_states`."""
    given: dict[str, dict[str, Any]] = {}
    for key in sorted(by_student):
        group = by_student[key]
        first = group[0]
        wanted = given[key] = {
            "student_key": key,
            **dict.fromkeys(IDENTITY_COLUMNS),
            "first_seen": first.event_time,
            "last_seen": first.event_time,
        }
        for event in group:
            # The group's latest value of each (events in eventId order), else none.
            if event.email_address is not None:
                wanted["email_address"] = event.email_address
            if event.user_id is not None:
                wanted["user_id"] = event.user_id
            if event.user_name is not None:
                wanted["user_name"] = event.user_name
            if event.team_name is not None:
                wanted["team_name"] = event.team_name
            if event.event_time < wanted["first_seen"]:
                wanted["first_seen"] = event.event_time
            if event.event_time > wanted["last_seen"]:
                wanted["last_seen"] = event.event_time
    students: dict[str, _Student] = {}
    locked = await bulk.lock_students(conn, list(given.values()))
    assert not locked or tuple(locked[0].keys()) == LOCKED_COLUMNS  # state_from_locked's order
    for row in locked:
        key = row["student_key"]
        identity = {}
        renamed = []
        for column in IDENTITY_COLUMNS:
            value = given[key][column]
            if value is None:
                value = row[column]
            elif value != row[column]:
                renamed.append(column)
            identity[column] = value
        if renamed:
            row = {**row, **identity}
        students[key] = _Student(row["id"], identity, renamed, state_from_locked(row))
    return students


def _spans(times: Iterable[tuple[_K, datetime]]) -> dict[_K, list[datetime]]:
    """Key → [earliest, latest] of its times."""
    spans: dict[_K, list[datetime]] = {}
    for key, at in times:
        span = spans.get(key)
        if span is None:
            spans[key] = [at, at]
        elif at < span[0]:
            span[0] = at
        elif at > span[1]:
            span[1] = at
    return spans


async def _upsert_notebooks(
    conn: AsyncConnection, bulk: Bulk, events: Sequence[NewEvent]
) -> dict[str, int]:
    spans = _spans(
        (event.notebook_path, event.event_time)
        for event in events
        if event.notebook_path is not None
    )
    if not spans:
        return {}
    rows = [
        {"path": path, "first_seen": spans[path][0], "last_seen": spans[path][1]}
        for path in sorted(spans)
    ]
    return await bulk.upsert_notebooks(conn, rows)


async def _upsert_sessions(
    conn: AsyncConnection, bulk: Bulk, events: Sequence[NewEvent], student_ids: dict[str, int]
) -> dict[tuple[int, str], int]:
    spans = _spans(
        ((student_ids[event.student_key], event.session_key), event.event_time)
        for event in events
        if event.session_key is not None
    )
    if not spans:
        return {}
    rows = [
        {"student_id": k[0], "session_key": k[1], "first_seen": s[0], "last_seen": s[1]}
        for k, s in sorted(spans.items())
    ]
    return await bulk.upsert_sessions(conn, rows)


async def _insert_events(
    conn: AsyncConnection,
    bulk: Bulk,
    events: Sequence[NewEvent],
    student_ids: dict[str, int],
    notebook_ids: dict[str, int],
    session_ids: dict[tuple[int, str], int],
) -> dict[str, int]:
    """Events whose eventId is new, with the cell executions of those; eventId → pk."""
    # Column by column: what both databases bind, without a dict per event.
    students = [student_ids[e.student_key] for e in events]
    columns: dict[str, list[Any]] = {
        "event_id": [e.event_id for e in events],
        "event_type": [e.event_type for e in events],
        "event_time": [e.event_time for e in events],
        "received_at": [e.received_at for e in events],
        "student_id": students,
        "notebook_id": [
            notebook_ids.get(e.notebook_path) if e.notebook_path else None for e in events
        ],
        "session_id": [
            session_ids.get((s, e.session_key)) if e.session_key else None
            for s, e in zip(students, events, strict=True)
        ],
        "truncated": [e.truncated for e in events],
        "extra": [e.extra for e in events],
    }
    # Every execution of the group: the database keeps those of new events only.
    runs = [e for e in events if e.is_execution]
    executions: dict[str, list[Any]] = {
        "event_id": [e.event_id for e in runs],
        "cell_id": [e.cell_id for e in runs],
        "cell_index": [e.cell_index for e in runs],
        "cell_type": [e.cell_type for e in runs],
        "code": [e.code for e in runs],
        "execution_count": [e.execution_count for e in runs],
        "has_error": [e.has_error for e in runs],
        "error_name": [e.error_name for e in runs],
        "error_message": [e.error_message for e in runs],
        "traceback": [e.traceback for e in runs],
        "result": [e.result for e in runs],
        "duration_ms": [e.duration_ms for e in runs],
    }
    return await bulk.insert_events(conn, columns, executions)


async def _store_states(
    conn: AsyncConnection,
    bulk: Bulk,
    by_student: dict[str, list[NewEvent]],
    students: dict[str, _Student],
) -> list[tuple[LiveState | None, LiveState]]:
    """Each student's one UPDATE of the group: the new identity and live state
    (`by_student`: the stored events of each student who has some)."""
    changes = []
    updates: list[tuple[_Student, LiveState]] = []
    changed: set[str] = set()
    for key in sorted(students):
        student = students[key]
        if key in by_student:
            before = student.before
            after = apply_events(before or LiveState(student=key), by_student[key])
            changes.append((before, after))
            changed.update(changed_columns(student.stored, after))
        elif student.renamed:
            after = student.stored  # none of its events is new: only its identity changes
        else:
            continue
        changed.update(student.renamed)
        updates.append((student, after))
    if updates:
        # Only the columns some student's row changed in (`stored` is the row as
        # stored): fewer values to bind, and to write on PostgreSQL.
        identity = [c for c in IDENTITY_COLUMNS if c in changed]
        state = state_fields(changed)
        rows = []
        for student, after in updates:
            row: dict[str, Any] = {"id": student.pk}
            for column in identity:
                row[column] = student.identity[column]
            values = vars(after)
            for column, name in state:
                row[column] = values[name]
            rows.append(row)
        await bulk.update_states(conn, rows)
    return changes
