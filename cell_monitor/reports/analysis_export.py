"""Export for analysis: a course or a session as files pandas and polars read directly.

Three tables (students, events, executions) as CSV (always) or Parquet (with the
`analysis` extra: pyarrow). CSV cells that a spreadsheet would run as a formula are
prefixed with `'`, as in the dashboard's exports; Parquet keeps every text exact.
Rows are streamed in chunks, so a term's worth of events never sits in memory.
"""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TextIO, TypeVar

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.domain.live_status import Thresholds
from cell_monitor.downloads import csv_lines
from cell_monitor.reports.csv_export import (
    EXECUTION_COLUMNS,
    ROWS_PER_CHUNK,
    STUDENT_COLUMNS,
    ExportFilters,
    _executions_query,
    _student_row,
)
from cell_monitor.storage.live_rows import STATE_COLUMNS, state_from_row
from cell_monitor.storage.models import Event, LearningSession, Notebook, Student

T = TypeVar("T")

EVENT_COLUMNS = (
    "eventId",
    "eventType",
    "eventTime",
    "receivedAt",
    "student",
    "teamName",
    "notebookPath",
    "sessionId",
    "truncated",
    "extra",
)


class Format(str, Enum):
    csv = "csv"
    parquet = "parquet"


class ParquetUnavailable(RuntimeError):
    """Parquet needs pyarrow: `pip install 'cell-monitor[analysis]'`."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: Sequence[str]
    chunks: AsyncIterator[list[list[Any]]]


async def write_analysis(
    engine: AsyncEngine,
    directory: Path,
    filters: ExportFilters,
    fmt: Format,
    now: datetime,
    thresholds: Thresholds,
) -> dict[str, int]:
    """Write students, events and executions into `directory`; rows written per table."""
    writer = _parquet_writer() if fmt is Format.parquet else _write_csv
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in _tables(engine, filters, now, thresholds):
        counts[table.name] = await writer(directory / f"{table.name}.{fmt.value}", table)
    return counts


def zip_directory(directory: Path, target: Path) -> None:
    """The exported files as one zip (what the endpoint sends)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.iterdir()):
            archive.write(path, path.name)


def _tables(
    engine: AsyncEngine, filters: ExportFilters, now: datetime, thresholds: Thresholds
) -> list[Table]:
    return [
        Table("students", STUDENT_COLUMNS, _students(engine, filters, now, thresholds)),
        Table("events", EVENT_COLUMNS, _rows(engine, _events_query(filters), _event_row)),
        Table("executions", EXECUTION_COLUMNS, _rows(engine, _executions_query(filters), list)),
    ]


async def _rows(
    engine: AsyncEngine, stmt: Any, convert: Callable[[Any], T]
) -> AsyncIterator[list[T]]:
    async with engine.connect() as conn:
        result = await conn.stream(stmt)
        async for chunk in result.partitions(ROWS_PER_CHUNK):
            yield [convert(row) for row in chunk]


async def _students(
    engine: AsyncEngine, filters: ExportFilters, now: datetime, thresholds: Thresholds
) -> AsyncIterator[list[list[Any]]]:
    stmt = select(*STATE_COLUMNS).order_by(Student.student_key)
    if filters.team is not None:
        stmt = stmt.where(Student.team_name == filters.team)
    if filters.student is not None:
        stmt = stmt.where(Student.student_key.in_({filters.student, filters.student.lower()}))
    async for chunk in _rows(engine, stmt, state_from_row):
        yield [_student_row(state, now, thresholds) for state in chunk]


def _events_query(filters: ExportFilters) -> Any:
    stmt = (
        select(
            Event.event_id,
            Event.event_type,
            Event.event_time,
            Event.received_at,
            Student.student_key,
            Student.team_name,
            Notebook.path,
            LearningSession.session_key,
            Event.truncated,
            Event.extra,
        )
        .join(Student, Student.id == Event.student_id)
        .outerjoin(Notebook, Notebook.id == Event.notebook_id)
        .outerjoin(LearningSession, LearningSession.id == Event.session_id)
    )
    if filters.team is not None:
        stmt = stmt.where(Student.team_name == filters.team)
    if filters.notebook is not None:
        stmt = stmt.where(Notebook.path == filters.notebook)
    if filters.student is not None:
        stmt = stmt.where(Student.student_key.in_({filters.student, filters.student.lower()}))
    if filters.since is not None:
        stmt = stmt.where(Event.event_time >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Event.event_time < filters.until)
    return stmt.order_by(Event.event_time, Event.id)


def _event_row(row: Any) -> list[Any]:
    values = list(row)
    values[-1] = orjson.dumps(row.extra).decode() if row.extra else None
    return values


def _append_csv(handle: TextIO, rows: list[list[Any]]) -> None:
    handle.write(csv_lines(rows))


async def _write_csv(path: Path, table: Table) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(csv_lines([table.columns]))
        async for chunk in table.chunks:
            # Formatting and writing off the event loop: an export must not stall ingest.
            await asyncio.to_thread(_append_csv, handle, chunk)
            count += len(chunk)
    return count


# Parquet column types; every other column is text.
_TIMES = {"eventTime", "receivedAt", "lastActivity", "helpSince"}
_INTEGERS = {"cellIndex", "executionCount", "executions", "errors", "consecutiveErrors"}
_INTEGERS |= {"lastCellIndex"}
_FLOATS = {"executionDurationMs"}
_BOOLEANS = {"hasError", "truncated"}


def _parquet_writer() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ParquetUnavailable(
            "Parquet needs pyarrow: pip install 'cell-monitor[analysis]' (or use CSV)"
        ) from exc

    def schema(columns: Sequence[str]) -> Any:
        def kind(name: str) -> Any:
            if name in _TIMES:
                return pa.timestamp("us", tz="UTC")
            if name in _INTEGERS:
                return pa.int64()
            if name in _FLOATS:
                return pa.float64()
            if name in _BOOLEANS:
                return pa.bool_()
            return pa.string()

        return pa.schema([(name, kind(name)) for name in columns])

    async def write(path: Path, table: Table) -> int:
        shape = schema(table.columns)
        count = 0
        with pq.ParquetWriter(path, shape) as writer:
            async for chunk in table.chunks:
                columns = {name: [row[i] for row in chunk] for i, name in enumerate(table.columns)}
                await asyncio.to_thread(writer.write_table, pa.table(columns, schema=shape))
                count += len(chunk)
        return count

    return write
