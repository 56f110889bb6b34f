"""Test results and time on task, kept current by every commit (like report_tables.py).

- test_results: per (student, notebook, question) the latest outcome (newest by
  (event_time, event pk): a late event counts as an attempt but does not replace
  a newer outcome), the attempts and the first time it passed;
- cell_activity: per (student, notebook, cell) the edits and active time the
  student's JupyterLab reported in engagement events. The edits/activeMs a run
  carries for its own cell go to that cell's latest_runs row instead
  (report_tables.py), which the run updates anyway: one statement per run, not
  two. Time on task is the sum of both (signals/time_on_task.py).

Both are sums and extremes, so a resent event (stored once) counts once and the
order of arrival does not matter. Rows are written in key order within a group,
so concurrent transactions cannot deadlock on them. Erasure removes a student's
rows (privacy/erasure.py), retention the rows last touched before its cutoff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.domain.records import NewEvent
from cell_monitor.storage.models import CellActivityRow, TestResultRow
from cell_monitor.storage.upserts import upsert

# One row covers one (student, notebook, cell or question).
Key = tuple[int, int, Any]


def _earlier(a: Any, b: Any) -> Any:
    return case((b < a, b), else_=a)


def _later(a: Any, b: Any) -> Any:
    return case((b > a, b), else_=a)


async def record(
    conn: AsyncConnection,
    events: Sequence[NewEvent],
    student_ids: dict[str, int],
    notebook_ids: dict[str, int],
) -> None:
    """Add the newly stored `events` (their pk set) of a group to both tables."""
    if not any(e.tests or e.activity for e in events):
        return  # most groups: nothing for either table
    placed = [
        (e, student_ids[e.student_key], notebook_ids[e.notebook_path])
        for e in events
        if e.notebook_path is not None and e.notebook_path in notebook_ids
    ]
    tests = [p for p in placed if p[0].tests and p[0].is_execution]
    if tests:
        await _record_tests(conn, tests)
    if any(a for p in placed for a in p[0].activity if not p[0].carries(a)):
        await _record_activity(conn, placed)


def _test_rows(placed: Sequence[tuple[NewEvent, int, int]]) -> dict[Key, dict[str, Any]]:
    rows: dict[Key, dict[str, Any]] = {}
    for event, student_id, notebook_id in placed:
        for result in event.tests:
            key = (student_id, notebook_id, result.question)
            row = rows.get(key)
            t = event.event_time
            if row is None:
                row = rows[key] = {"attempts": 0, "first_at": t, "first_passed_at": None}
            row["attempts"] += 1
            row["first_at"] = min(row["first_at"], t)
            if result.passed and (row["first_passed_at"] is None or t < row["first_passed_at"]):
                row["first_passed_at"] = t
            if "last_at" not in row or (t, event.pk) > (row["last_at"], row["last_event_pk"]):
                row.update(
                    last_at=t,
                    last_event_pk=event.pk,
                    kind=result.kind,
                    cell_index=event.cell_index,
                    passed=result.passed,
                    points=result.points,
                    max_points=result.max_points,
                    error_name=None if result.passed else event.error_name,
                )
    return rows


_LATEST = ("last_at", "last_event_pk", "kind", "cell_index", "passed", "points", "max_points")


async def _record_tests(conn: AsyncConnection, placed: Sequence[tuple[NewEvent, int, int]]) -> None:
    rows = _test_rows(placed)
    values = [
        {"student_id": k[0], "notebook_id": k[1], "question": k[2], **row}
        for k, row in sorted(rows.items())
    ]
    await conn.execute(upsert(conn, _tests_upsert), values)


def _tests_upsert(insert: Callable[[Any], Any]) -> Any:
    stmt = insert(TestResultRow)
    new, old = stmt.excluded, TestResultRow.__table__.c
    newer = or_(
        new.last_at > old.last_at,
        and_(new.last_at == old.last_at, new.last_event_pk > old.last_event_pk),
    )
    set_ = {name: case((newer, new[name]), else_=old[name]) for name in (*_LATEST, "error_name")}
    set_["attempts"] = old.attempts + new.attempts
    set_["first_at"] = _earlier(old.first_at, new.first_at)
    set_["first_passed_at"] = case(
        (old.first_passed_at.is_(None), new.first_passed_at),
        (new.first_passed_at.is_(None), old.first_passed_at),
        else_=_earlier(old.first_passed_at, new.first_passed_at),
    )
    return stmt.on_conflict_do_update(
        index_elements=[
            TestResultRow.student_id,
            TestResultRow.notebook_id,
            TestResultRow.question,
        ],
        set_=set_,
    )


async def _record_activity(
    conn: AsyncConnection, placed: Sequence[tuple[NewEvent, int, int]]
) -> None:
    rows: dict[Key, dict[str, Any]] = {}
    for event, student_id, notebook_id in placed:
        for activity in event.activity:
            if activity.cell_index is None or (activity.edits == 0 and activity.active_ms == 0):
                continue
            if event.carries(activity):
                continue  # in the run's latest_runs row (report_tables.py)
            key = (student_id, notebook_id, activity.cell_index)
            t = event.event_time
            row = rows.setdefault(
                key, {"active_ms": 0.0, "edits": 0, "reports": 0, "first_at": t, "last_at": t}
            )
            row["active_ms"] += activity.active_ms
            row["edits"] += activity.edits
            row["reports"] += 1
            row["first_at"] = min(row["first_at"], t)
            row["last_at"] = max(row["last_at"], t)
    if not rows:
        return
    values = [
        {"student_id": k[0], "notebook_id": k[1], "cell_index": k[2], **row}
        for k, row in sorted(rows.items())
    ]
    await conn.execute(upsert(conn, _activity_upsert), values)


def _activity_upsert(insert: Callable[[Any], Any]) -> Any:
    stmt = insert(CellActivityRow)
    new, old = stmt.excluded, CellActivityRow.__table__.c
    return stmt.on_conflict_do_update(
        index_elements=[
            CellActivityRow.student_id,
            CellActivityRow.notebook_id,
            CellActivityRow.cell_index,
        ],
        set_={
            "active_ms": old.active_ms + new.active_ms,
            "edits": old.edits + new.edits,
            "reports": old.reports + new.reports,
            "first_at": _earlier(old.first_at, new.first_at),
            "last_at": _later(old.last_at, new.last_at),
        },
    )


async def prune_before(conn: AsyncConnection, cutoff: datetime) -> dict[str, int]:
    """Remove the rows last updated before `cutoff` (retention.py)."""
    counts = {}
    for name, model in (("test_results", TestResultRow), ("cell_activity", CellActivityRow)):
        result = await conn.execute(delete(model).where(model.last_at < cutoff))
        counts[name] = int(result.rowcount or 0)
    return counts
