"""Everything the primary store holds about one student, as JSON-ready data.

The right of access (GDPR art. 15, FERPA's right to inspect): the student row
with its live state, sessions, the notebooks they used, every event with its
cell execution (code, output summary, errors), their help requests (who
claimed them, how they ended), instructor actions about them, and the
messages they received with their receipts and replies. InfluxDB holds only
points derived from these same events (see docs/privacy.md), so it adds
nothing to an export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor.progress import NO_PROGRESS, Progress
from cell_monitor.storage.models import (
    Base,
    CellActivityRow,
    CellExecution,
    ErrorStudent,
    Event,
    HelpRequest,
    InstructorAction,
    LatestRun,
    LearningSession,
    Message,
    MessageRecipient,
    MessageReply,
    Notebook,
    NotebookStudent,
    Student,
    StudentCredential,
    TestResultRow,
)


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _rows(conn: AsyncConnection, model: type[Base], *where: Any) -> list[dict[str, Any]]:
    table = cast(Table, model.__table__)
    stmt = select(table).where(*where).order_by(*table.primary_key.columns)
    result = await conn.execute(stmt)
    return [{k: _value(v) for k, v in row._mapping.items()} for row in result.all()]


async def student_ids(conn: AsyncConnection, keys: Iterable[str]) -> list[int]:
    """The `students.id` of every row stored under one of `keys`."""
    stmt = select(Student.id).where(Student.student_key.in_(list(keys))).order_by(Student.id)
    return [int(pk) for pk in (await conn.execute(stmt)).scalars().all()]


async def student_keys_stored(conn: AsyncConnection, keys: Iterable[str]) -> list[str]:
    """Those of `keys` under which a student is stored."""
    stmt = select(Student.student_key).where(Student.student_key.in_(list(keys)))
    return list((await conn.execute(stmt.order_by(Student.id))).scalars().all())


def notebooks_of(ids: list[int]) -> Any:
    """The condition on `notebooks` for those a student's events or live state name."""
    used = select(Event.notebook_id).where(Event.student_id.in_(ids))
    executed = select(CellExecution.notebook_id).where(CellExecution.student_id.in_(ids))
    last = select(Student.last_notebook).where(Student.id.in_(ids))
    return or_(Notebook.id.in_(used), Notebook.id.in_(executed), Notebook.path.in_(last))


def messages_of(ids: list[int]) -> Any:
    """The ids of the messages addressed to the students `ids`."""
    return select(MessageRecipient.message_id).where(MessageRecipient.student_id.in_(ids))


async def export_student(
    engine: AsyncEngine, keys: Iterable[str], progress: Progress = NO_PROGRESS
) -> dict[str, Any]:
    """All rows about the students stored under `keys` (empty lists when none).

    `progress` advances by one per table read.
    """
    keys = list(keys)
    progress.set_total(len(_EXPORTED) + 2)  # + the student ids first, the credentials last
    async with engine.connect() as conn:
        ids = await student_ids(conn, keys)
        data: dict[str, Any] = {
            "exportedAt": datetime.now(timezone.utc).isoformat(),
            "lookedUpKeys": keys,
        }
        progress.advance(1, "student ids")
        for name, model, condition in _EXPORTED:
            data[name] = await _rows(conn, model, condition(ids))
            progress.advance(1, name)
        # Issued even if never used; the hash of the secret is no data about them.
        credentials = StudentCredential.student_key.in_(keys)
        data["credentials"] = [
            {k: v for k, v in row.items() if k != "token_hash"}
            for row in await _rows(conn, StudentCredential, credentials)
        ]
        progress.advance(1, "credentials")
    return data


# What an export holds, table by table: (key in the export, model, rows of the students).
_EXPORTED: tuple[tuple[str, type[Base], Callable[[list[int]], Any]], ...] = (
    ("students", Student, lambda ids: Student.id.in_(ids)),
    ("sessions", LearningSession, lambda ids: LearningSession.student_id.in_(ids)),
    ("notebooks", Notebook, notebooks_of),
    ("events", Event, lambda ids: Event.student_id.in_(ids)),
    ("cellExecutions", CellExecution, lambda ids: CellExecution.student_id.in_(ids)),
    ("instructorActions", InstructorAction, lambda ids: InstructorAction.student_id.in_(ids)),
    ("helpRequests", HelpRequest, lambda ids: HelpRequest.student_id.in_(ids)),
    # Derived from their executions by the writer (storage/report_tables.py).
    ("latestRuns", LatestRun, lambda ids: LatestRun.student_id.in_(ids)),
    ("notebookStudents", NotebookStudent, lambda ids: NotebookStudent.student_id.in_(ids)),
    ("errorGroupEntries", ErrorStudent, lambda ids: ErrorStudent.student_id.in_(ids)),
    # Messages addressed to them, what they did with each, and their replies.
    ("messages", Message, lambda ids: Message.id.in_(messages_of(ids))),
    ("messageReceipts", MessageRecipient, lambda ids: MessageRecipient.student_id.in_(ids)),
    ("messageReplies", MessageReply, lambda ids: MessageReply.student_id.in_(ids)),
    # Test outcomes per question and time on task per cell (storage/signal_tables.py).
    ("testResults", TestResultRow, lambda ids: TestResultRow.student_id.in_(ids)),
    ("cellActivity", CellActivityRow, lambda ids: CellActivityRow.student_id.in_(ids)),
)
