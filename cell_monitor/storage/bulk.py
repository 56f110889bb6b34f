"""The six bulk statements of a group write, per database.

`SqliteBulk` sends each table's rows in one multi-row statement or one
`executemany` on the sqlite3 connection, values bound column by column.
`PostgresBulk` sends each table's rows as one JSON array text per column
(`_json_rows`): one statement text whatever the row count, so asyncpg prepares it once per
connection, and one round trip per table.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    FromClause,
    Integer,
    String,
)
from sqlalchemy import exc as exc_
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.storage.engine import observe_query
from cell_monitor.storage.live_rows import IDENTITY_COLUMNS, LOCKED_COLUMNS
from cell_monitor.storage.models import (
    CellExecution,
    Event,
    LearningSession,
    Notebook,
    Student,
    UtcDateTime,
)

Rows = Sequence[dict[str, Any]]
# The same rows column by column (name → one value per row), for the large tables.
Columns = Mapping[str, list[Any]]


class Bulk(Protocol):
    async def lock_students(self, conn: AsyncConnection, rows: Rows) -> Sequence[Mapping[str, Any]]:
        """Insert missing students and lock every one; LOCKED_COLUMNS of each, as stored
        (a mapping whose keys and values are in that order).

        An existing row is read, not written: the group's one UPDATE of it
        (`update_states`) sets its identity and live state together."""

    async def upsert_notebooks(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        """Insert missing notebooks; path → id. Existing rows are not locked."""

    async def upsert_sessions(
        self, conn: AsyncConnection, rows: Rows
    ) -> dict[tuple[int, str], int]: ...

    async def insert_events(
        self, conn: AsyncConnection, rows: Columns, runs: Columns
    ) -> dict[str, int]:
        """Insert events whose eventId is new, and the cell executions of those (`runs`:
        `event_id` and RUN_COLUMNS); eventId → primary key of the new events."""

    async def update_states(self, conn: AsyncConnection, rows: Rows) -> None:
        """Rows of `id` plus the state columns to set."""


def bulk_for(conn: AsyncConnection) -> Bulk:
    return _POSTGRES if conn.dialect.name == "postgresql" else _SQLITE_BULK


# What a cell_executions row holds beyond its event's id, student, notebook and time.
RUN_COLUMNS = (
    "cell_id",
    "cell_index",
    "cell_type",
    "code",
    "execution_count",
    "has_error",
    "error_name",
    "error_message",
    "traceback",
    "result",
    "duration_ms",
)
_FROM_EVENT = ("student_id", "notebook_id", "event_time")


# What a new students row starts with; the rest are the columns' defaults.
_NEW_STUDENT = ("student_key", *IDENTITY_COLUMNS, "first_seen", "last_seen")


class SqliteBulk:
    """Runs on the sqlite3 connection under SQLAlchemy's transaction.

    Each table's rows go in one multi-row statement (`RETURNING` where ids are
    needed, SQLite ≥ 3.35) or one `executemany`, with values bound column by
    column (`sqlite_columns`): SQLAlchemy's executemany builds every row's
    parameters in Python, a processor call per value, which cost more than
    SQLite takes to store them.
    """

    def __init__(self) -> None:
        students = Student.__table__
        listed = ", ".join(LOCKED_COLUMNS)
        # One writer at a time (BEGIN IMMEDIATE): a student not found here is inserted
        # by nobody else before this transaction ends.
        self._students_select = f"SELECT {listed} FROM students WHERE student_key IN "
        self._students_insert = (
            f"INSERT INTO students ({', '.join(_NEW_STUDENT)})",
            f"RETURNING {listed}",
        )
        self._students_reader = SqliteReader(students, LOCKED_COLUMNS)
        # One writer at a time here (SQLite's BEGIN IMMEDIATE): the upsert also
        # advances last_seen (PostgreSQL does it last, report_counters.py).
        self._notebooks = (
            "INSERT INTO notebooks (path, first_seen, last_seen)",
            "ON CONFLICT (path) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen) "
            "RETURNING id, path",
        )
        self._session_columns = ["student_id", "session_key", "first_seen", "last_seen"]
        self._sessions = (
            f"INSERT INTO sessions ({', '.join(self._session_columns)})",
            "ON CONFLICT (student_id, session_key) DO UPDATE SET "
            "last_seen = max(last_seen, excluded.last_seen) RETURNING id, student_id, session_key",
        )
        self._event_columns = [c.name for c in Event.__table__.columns if c.name != "id"]
        self._events = (
            f"INSERT INTO events ({', '.join(self._event_columns)})",
            "ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id",
        )
        self._execution_columns = ["event_pk", *_FROM_EVENT, *RUN_COLUMNS]
        self._executions_sql = (
            f"INSERT INTO cell_executions ({', '.join(self._execution_columns)}) "
            f"VALUES ({', '.join('?' for _ in self._execution_columns)})"
        )

    async def lock_students(self, conn: AsyncConnection, rows: Rows) -> Sequence[Mapping[str, Any]]:
        keys = [row["student_key"] for row in rows]
        driver = await _sqlite_driver(conn)
        found: list[Any] = []
        for first in range(0, len(keys), _SQLITE_VARIABLES):
            chunk = keys[first : first + _SQLITE_VARIABLES]
            sql = f"{self._students_select}({', '.join('?' for _ in chunk)})"
            started = time.perf_counter()
            with _as_sqlalchemy_errors(conn, self._students_select):
                found.extend(await driver.execute_fetchall(sql, chunk))
            observe_query(conn.info, "select", self._students_select, time.perf_counter() - started)
        key_at = LOCKED_COLUMNS.index("student_key")
        known = {row[key_at] for row in found}
        missing = [row for row in rows if row["student_key"] not in known]
        if missing:
            found.extend(
                await sqlite_returning(
                    conn, Student.__table__, self._students_insert, _NEW_STUDENT, missing
                )
            )
        return [dict(zip(LOCKED_COLUMNS, row, strict=True)) for row in self._students_reader(found)]

    async def upsert_notebooks(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        columns = ["path", "first_seen", "last_seen"]
        found = await sqlite_returning(conn, Notebook.__table__, self._notebooks, columns, rows)
        return {path: pk for pk, path in found}

    async def upsert_sessions(
        self, conn: AsyncConnection, rows: Rows
    ) -> dict[tuple[int, str], int]:
        found = await sqlite_returning(
            conn, LearningSession.__table__, self._sessions, self._session_columns, rows
        )
        return {(student, key): pk for pk, student, key in found}

    async def insert_events(
        self, conn: AsyncConnection, rows: Columns, runs: Columns
    ) -> dict[str, int]:
        found = await sqlite_returning(
            conn, Event.__table__, self._events, self._event_columns, rows
        )
        ids = {event_id: pk for pk, event_id in found}
        new = [n for n, event_id in enumerate(runs["event_id"]) if event_id in ids]
        if new:
            at = {event_id: n for n, event_id in enumerate(rows["event_id"])}
            events = [at[runs["event_id"][n]] for n in new]
            columns: dict[str, list[Any]] = {"event_pk": [ids[runs["event_id"][n]] for n in new]}
            columns.update((c, [rows[c][n] for n in events]) for c in _FROM_EVENT)
            columns.update((c, [runs[c][n] for n in new]) for c in RUN_COLUMNS)
            await driver_executemany(
                conn,
                "insert",
                self._executions_sql,
                CellExecution.__table__,
                self._execution_columns,
                columns,
            )
        return ids

    async def update_states(self, conn: AsyncConnection, rows: Rows) -> None:
        columns = [name for name in rows[0] if name != "id"]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        sql = f"UPDATE students SET {assignments} WHERE id = ?"
        await driver_executemany(conn, "update", sql, Student.__table__, [*columns, "id"], rows)


# How many `?` one SQLite statement may hold (SQLITE_MAX_VARIABLE_NUMBER's default).
_SQLITE_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


# The same moments recur in a group (an event's time goes to events, cell_executions,
# latest_runs and the student's state): formatting one costs ~1 µs, a cache hit
# (datetimes cache their hash) a fraction of that. Equal datetimes are the same
# instant, so they share a text.
_TIME_MEMO = 100_000


def _sqlite_time(value: datetime | None) -> str | None:
    """What UtcDateTime's SQLite bind processor stores."""
    return None if value is None else _time_text(value)


@functools.lru_cache(maxsize=_TIME_MEMO)
def _time_text(value: datetime) -> str:
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _read_time(value: str | None) -> datetime | None:
    return None if value is None else _text_time(value)


@functools.lru_cache(maxsize=_TIME_MEMO)
def _text_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return _SQLITE_TIME_READER(value) if _SQLITE_TIME_READER else None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


_SQLITE = sqlite.dialect()
_SQLITE_TIME_TYPE = UtcDateTime().dialect_impl(_SQLITE)
_SQLITE_TIME_READER = _SQLITE_TIME_TYPE.result_processor(_SQLITE, None)


@functools.cache
def _sqlite_binder(table: FromClause, column: str) -> Any:
    """The function turning a value of `column` into what SQLite stores, None for as-is."""
    kind = table.c[column].type
    if isinstance(kind, UtcDateTime):
        return _sqlite_time
    if isinstance(kind, (Integer, String, Float)) and not isinstance(kind, Boolean):
        return None  # sqlite3 binds int, str and float as SQLAlchemy would
    return kind.dialect_impl(_SQLITE).bind_processor(_SQLITE)


def sqlite_columns(
    table: FromClause, columns: Sequence[str], rows: Rows | Columns
) -> list[list[Any]]:
    """One list per column of what SQLite stores for the rows' values (as SQLAlchemy would)."""
    values = []
    for column, cells in zip(columns, _columns_of(rows, columns), strict=True):
        process = _sqlite_binder(table, column)
        values.append([process(v) for v in cells] if process is not None else cells)
    return values


class SqliteReader:
    """Turns rows SQLite returned for `names` of `table` into what SQLAlchemy gives."""

    def __init__(self, table: FromClause, names: Sequence[str]) -> None:
        self.names = list(names)
        self._readers: list[Callable[[Any], Any] | None] = []
        for name in self.names:
            kind = table.c[name].type
            if isinstance(kind, UtcDateTime):
                self._readers.append(_read_time)
            else:
                self._readers.append(kind.dialect_impl(_SQLITE).result_processor(_SQLITE, None))

    def __call__(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if not rows:
            return []
        columns = []
        for read, cells in zip(self._readers, zip(*rows, strict=True), strict=True):
            columns.append([read(v) for v in cells] if read is not None else cells)
        return list(zip(*columns, strict=True))


@contextlib.contextmanager
def _as_sqlalchemy_errors(conn: AsyncConnection, sql: str) -> Iterator[None]:
    """sqlite3's errors as SQLAlchemy raises them for its own statements (an
    IntegrityError stays one), so the committer tells a refused event from a
    failing database the same way whichever path ran the statement."""
    try:
        yield
    except sqlite3.Error as exc:
        raise exc_.DBAPIError.instance(
            sql, None, exc, sqlite3.Error, hide_parameters=True, dialect=conn.dialect
        ) from exc


async def _sqlite_driver(conn: AsyncConnection) -> Any:
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.in_transaction:
        # Outside a transaction each statement would commit on its own.
        raise RuntimeError("bulk statements must run inside the group's transaction")
    return driver


async def sqlite_returning(
    conn: AsyncConnection,
    table: FromClause,
    statement: tuple[str, str],
    columns: Sequence[str],
    rows: Rows | Columns,
) -> list[Any]:
    """`statement[0] VALUES (…), (…) statement[1]` for `rows` (as many rows per
    statement as SQLite's variable limit allows); the rows its RETURNING gives, raw."""
    values = sqlite_columns(table, columns, rows)
    if not values[0]:
        return []
    driver = await _sqlite_driver(conn)
    one = f"({', '.join('?' for _ in columns)})"
    per_statement = max(1, _SQLITE_VARIABLES // len(columns))
    found: list[Any] = []
    for first in range(0, len(values[0]), per_statement):
        chunk = [column[first : first + per_statement] for column in values]
        count = len(chunk[0])
        sql = f"{statement[0]} VALUES {', '.join([one] * count)} {statement[1]}"
        params = list(itertools.chain.from_iterable(zip(*chunk, strict=True)))
        started = time.perf_counter()
        with _as_sqlalchemy_errors(conn, statement[0]):
            found.extend(await driver.execute_fetchall(sql, params))
        observe_query(conn.info, "insert", statement[0], time.perf_counter() - started)
    return found


async def driver_executemany(
    conn: AsyncConnection,
    operation: str,
    sql: str,
    table: FromClause,
    columns: Sequence[str],
    rows: Rows | Columns,
) -> None:
    """`sql` (one `?` per column, in order) for every row, through the SQLite driver's
    executemany, inside the transaction of `conn`; values bound as `sqlite_columns`."""
    values = sqlite_columns(table, columns, rows)
    if not values[0]:
        return
    driver = await _sqlite_driver(conn)
    started = time.perf_counter()
    with _as_sqlalchemy_errors(conn, sql):
        cursor = await driver.executemany(sql, list(zip(*values, strict=True)))
        await cursor.close()
    observe_query(conn.info, operation, sql, time.perf_counter() - started)


def _pg_type(table: FromClause, column: str) -> str:
    kind = table.c[column].type
    if isinstance(kind, UtcDateTime):
        return "timestamptz"
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Float):
        return "double precision"
    if isinstance(kind, JSON):
        return "json"
    return "text"


def _table_rows(table: FromClause, columns: Sequence[str]) -> str:
    """The rows sent as one JSON array per column ($1, $2…), as a subquery
    u(columns) of the table's types (see `_json_rows`)."""
    return _json_rows([(c, _pg_type(table, c)) for c in columns])


def _json_rows(columns: Sequence[tuple[str, str]], first: int = 1, alias: str = "u") -> str:
    """Subquery `alias`(names) of rows sent as one JSON array per (name, type) column,
    parameters $first, $first+1….

    A JSON text is one value for asyncpg to bind whatever the row count, and
    orjson writes it in C; an array parameter costs asyncpg Python checks per
    element. PostgreSQL parses the texts in C (json_array_elements_text, then
    each type's input function); ROWS FROM pairs the columns by position, as
    unnest() does.
    """
    elements = []
    values = []
    for n, (column, kind) in enumerate(columns, start=first):
        param = f"${n}::json"
        if kind == "json":
            # An element as sent; JSON null is a NULL, as None was before.
            elements.append(f"json_array_elements({param})")
            values.append(
                f"CASE WHEN json_typeof(r.{column}) = 'null' THEN NULL ELSE r.{column} END"
            )
        else:
            elements.append(f"json_array_elements_text({param})")
            values.append(f"r.{column}" if kind == "text" else f"r.{column}::{kind}")
    names = [c for c, _ in columns]
    selected = ", ".join(f"{v} AS {c}" for v, c in zip(values, names, strict=True))
    return (
        f"(SELECT {selected} FROM ROWS FROM ({', '.join(elements)}) "
        f"AS r({', '.join(names)})) AS {alias}"
    )


def _json_columns(columns: Sequence[list[Any]]) -> list[str]:
    """One JSON array text per column, the parameters of `_table_rows`."""
    return [orjson.dumps(cells, option=orjson.OPT_NAIVE_UTC).decode() for cells in columns]


def _columns_of(rows: Rows | Columns, columns: Sequence[str]) -> list[list[Any]]:
    if isinstance(rows, Mapping):
        return [rows[c] for c in columns]
    return [[row[c] for row in rows] for c in columns]


async def pg_fetch(
    conn: AsyncConnection, operation: str, sql: str, args: Sequence[Any]
) -> list[Any]:
    """Run `sql` ($1, $2… parameters) on the asyncpg connection of `conn`'s transaction."""
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        # Outside a transaction each statement would commit on its own.
        raise RuntimeError("bulk statements must run inside the group's transaction")
    started = time.perf_counter()
    records = await driver.fetch(sql, *args)
    observe_query(conn.info, operation, sql, time.perf_counter() - started)
    return list(records)


def json_rows_sql(
    table: FromClause, columns: Sequence[str], first: int = 1, alias: str = "u"
) -> str:
    """The rows of one $n JSON array parameter per column of `table`, numbered from $first,
    aliased `alias`(columns)."""
    return _json_rows([(c, _pg_type(table, c)) for c in columns], first=first, alias=alias)


def json_columns(rows: Rows | Columns, columns: Sequence[str]) -> list[str]:
    """The parameters of `json_rows_sql` (one JSON text per column) from row dicts or columns."""
    return _json_columns(_columns_of(rows, columns))


class PostgresBulk:
    """Runs on the asyncpg connection under SQLAlchemy's transaction: at a few
    hundred commits per second, SQLAlchemy's per-statement layers cost more CPU
    than PostgreSQL takes to do the work."""

    def __init__(self) -> None:
        students = Student.__table__
        listed = ", ".join(LOCKED_COLUMNS)
        # The students that exist are locked and read (the latest committed
        # version), then the missing ones inserted, each part in key order
        # (COLLATE "C" is the writer's code point order), so concurrent groups
        # cannot deadlock. A student another transaction inserts meanwhile is in
        # neither part: the insert waits for that transaction, and its DO UPDATE
        # … WHERE false locks the row without writing or returning it, for
        # `_students_again_sql` to read. The lock is the one an UPDATE of
        # non-key columns takes (NO KEY: other transactions' foreign keys to the
        # student do not wait for it).
        self._students_sql = (
            f"WITH u AS (SELECT * FROM {_table_rows(students, _NEW_STUDENT)}), "
            f"locked AS (SELECT {', '.join(f's.{c}' for c in LOCKED_COLUMNS)} "
            "FROM students s JOIN u USING (student_key) "
            'ORDER BY s.student_key COLLATE "C" FOR NO KEY UPDATE OF s), '
            f"ins AS (INSERT INTO students ({', '.join(_NEW_STUDENT)}) SELECT * FROM u "
            "WHERE student_key NOT IN (SELECT student_key FROM locked) "
            'ORDER BY student_key COLLATE "C" '
            "ON CONFLICT (student_key) DO UPDATE SET email_address = students.email_address "
            f"WHERE false RETURNING {listed}) "
            f"SELECT {listed} FROM locked UNION ALL SELECT {listed} FROM ins"
        )
        self._students_again_sql = (
            f"SELECT {listed} FROM students WHERE student_key = ANY($1::text[]) "
            'ORDER BY student_key COLLATE "C" FOR NO KEY UPDATE'
        )
        self._notebook_columns = ["path", "first_seen", "last_seen"]
        # Every group of every lane and worker writes the same few notebook rows:
        # here they are only read (a missing one inserted), and their last_seen
        # is advanced at the end of the group (report_counters.py), so the row lock
        # is held from there to COMMIT only.
        self._notebooks_sql = (
            f"WITH u AS (SELECT * FROM {_table_rows(Notebook.__table__, self._notebook_columns)}), "
            "ins AS (INSERT INTO notebooks (path, first_seen, last_seen) SELECT * FROM u "
            "ON CONFLICT (path) DO NOTHING RETURNING id, path) "
            "SELECT id, path FROM ins UNION ALL "
            "SELECT n.id, n.path FROM notebooks n JOIN u USING (path)"
        )
        # A row another transaction inserted meanwhile is not in the statement's
        # snapshot: read once more, after it committed.
        self._notebook_ids_sql = "SELECT id, path FROM notebooks WHERE path = ANY($1::text[])"
        self._session_columns = ["student_id", "session_key", "first_seen", "last_seen"]
        self._sessions_sql = (
            f"INSERT INTO sessions ({', '.join(self._session_columns)}) "
            f"SELECT * FROM {_table_rows(LearningSession.__table__, self._session_columns)} "
            "ON CONFLICT (student_id, session_key) DO UPDATE SET "
            "last_seen = greatest(sessions.last_seen, excluded.last_seen) "
            "RETURNING id, student_id, session_key"
        )
        events = Event.__table__
        self._event_columns = [c.name for c in events.columns if c.name != "id"]
        select_list = ", ".join(f"u.{c}" for c in self._event_columns)
        # event_ids is the idempotency key (events is partitioned by event_time
        # and cannot hold a unique key on event_id alone; see partitions.py):
        # only the events whose eventId was new there are stored. Their
        # executions go in the same statement, taking the new events' ids,
        # students, notebooks and times from `stored`: one round trip, and four
        # columns fewer to send.
        self._run_columns = ["event_id", *RUN_COLUMNS]
        executions = CellExecution.__table__
        runs_from = _json_rows(
            [("event_id", "text"), *((c, _pg_type(executions, c)) for c in RUN_COLUMNS)],
            first=len(self._event_columns) + 1,
            alias="x",
        )
        execution_columns = ["event_pk", *_FROM_EVENT, *RUN_COLUMNS]
        self._events_sql = (
            f"WITH u AS (SELECT * FROM {_table_rows(events, self._event_columns)}), "
            "fresh AS (INSERT INTO event_ids (event_id, event_time) "
            "SELECT event_id, event_time FROM u ON CONFLICT (event_id) DO NOTHING "
            "RETURNING event_id), "
            f"stored AS (INSERT INTO events ({', '.join(self._event_columns)}) "
            f"SELECT {select_list} FROM u JOIN fresh USING (event_id) "
            f"RETURNING id, {', '.join(('event_id', *_FROM_EVENT))}), "
            f"runs AS (INSERT INTO cell_executions ({', '.join(execution_columns)}) "
            f"SELECT s.id, {', '.join(f's.{c}' for c in _FROM_EVENT)}, "
            f"{', '.join(f'x.{c}' for c in RUN_COLUMNS)} "
            f"FROM stored s JOIN {runs_from} USING (event_id) ORDER BY s.id) "
            "SELECT id, event_id FROM stored"
        )
        self._update_sql: dict[tuple[str, ...], str] = {}

    async def _fetch(
        self, conn: AsyncConnection, operation: str, sql: str, args: Sequence[Any]
    ) -> list[Any]:
        return await pg_fetch(conn, operation, sql, args)

    async def lock_students(self, conn: AsyncConnection, rows: Rows) -> Sequence[Mapping[str, Any]]:
        # Straight to asyncpg: the erasure guard (notebook_guard.py), the group's
        # first statement, went through SQLAlchemy and so opened the transaction.
        args = json_columns(rows, _NEW_STUDENT)
        records = await self._fetch(conn, "insert", self._students_sql, args)
        if len(records) < len(rows):
            known = {r["student_key"] for r in records}
            missing = [row["student_key"] for row in rows if row["student_key"] not in known]
            records += await self._fetch(conn, "select", self._students_again_sql, [missing])
        return records

    async def upsert_notebooks(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        args = json_columns(rows, self._notebook_columns)
        records = await self._fetch(conn, "insert", self._notebooks_sql, args)
        ids = {r["path"]: r["id"] for r in records}
        missing = [row["path"] for row in rows if row["path"] not in ids]
        if missing:
            records = await self._fetch(conn, "select", self._notebook_ids_sql, [missing])
            ids.update((r["path"], r["id"]) for r in records)
        return ids

    async def upsert_sessions(
        self, conn: AsyncConnection, rows: Rows
    ) -> dict[tuple[int, str], int]:
        args = json_columns(rows, self._session_columns)
        records = await self._fetch(conn, "insert", self._sessions_sql, args)
        # RETURNING id, student_id, session_key
        return {(student, key): pk for pk, student, key in records}

    async def insert_events(
        self, conn: AsyncConnection, rows: Columns, runs: Columns
    ) -> dict[str, int]:
        args = json_columns(rows, self._event_columns) + json_columns(runs, self._run_columns)
        records = await self._fetch(conn, "insert", self._events_sql, args)
        return {event_id: pk for pk, event_id in records}  # SELECT id, event_id

    async def update_states(self, conn: AsyncConnection, rows: Rows) -> None:
        columns = tuple(rows[0])
        sql = self._update_sql.get(columns)
        if sql is None:
            if len(self._update_sql) >= 64:
                self._update_sql.clear()  # the sets of changed columns a class produces are few
            assignments = ", ".join(f"{c} = u.{c}" for c in columns if c != "id")
            sql = (
                f"UPDATE students AS s SET {assignments} "
                f"FROM {_table_rows(Student.__table__, columns)} WHERE s.id = u.id"
            )
            self._update_sql[columns] = sql
        await self._fetch(conn, "update", sql, json_columns(rows, columns))


_SQLITE_BULK = SqliteBulk()
_POSTGRES = PostgresBulk()
