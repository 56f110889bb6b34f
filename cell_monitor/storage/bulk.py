"""The six bulk statements of a group write, per database.

`GenericBulk` uses SQLAlchemy's multi-row statements (SQLite, in process).
`PostgresBulk` sends each table's rows as arrays through `unnest()`: one
statement text whatever the row count, so asyncpg prepares it once per
connection, and one round trip per table.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    FromClause,
    Integer,
    String,
    Text,
    bindparam,
    func,
    insert,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from cell_monitor.storage.engine import observe_query
from cell_monitor.storage.live_rows import STATE_COLUMNS
from cell_monitor.storage.models import (
    CellExecution,
    Event,
    LearningSession,
    Notebook,
    Student,
    UtcDateTime,
)

Rows = Sequence[dict[str, Any]]


class Bulk(Protocol):
    async def upsert_students(
        self, conn: AsyncConnection, rows: Rows
    ) -> Sequence[tuple[int, Mapping[str, Any]]]:
        """Insert missing students; (id, STATE_COLUMNS as they were before) for each."""

    async def upsert_notebooks(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        """Insert missing notebooks; path → id. Existing rows are not locked."""

    async def touch_notebooks(self, conn: AsyncConnection, rows: Rows) -> None:
        """Advance `last_seen` (rows of `id`, `last_seen`): last, it locks shared rows."""

    async def upsert_sessions(
        self, conn: AsyncConnection, rows: Rows
    ) -> dict[tuple[int, str], int]: ...

    async def insert_events(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        """Insert events whose eventId is new; eventId → primary key of those."""

    async def insert_executions(self, conn: AsyncConnection, rows: Rows) -> None: ...

    async def update_states(self, conn: AsyncConnection, rows: Rows) -> None:
        """Rows of `id` plus the state columns to set."""


def bulk_for(conn: AsyncConnection) -> Bulk:
    return _POSTGRES if conn.dialect.name == "postgresql" else _GENERIC


# Identity is all a conflicting student row gets here: RETURNING must show the
# live state as it was before this group (the writer then advances it).
_IDENTITY = ("email_address", "user_id", "user_name", "team_name")


class GenericBulk:
    def _insert(self, conn: AsyncConnection, model: Any) -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(model)

    def _greatest(self, conn: AsyncConnection, a: Any, b: Any) -> Any:
        # SQLite's two-argument max() is its scalar GREATEST.
        return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)

    async def upsert_students(
        self, conn: AsyncConnection, rows: Rows
    ) -> Sequence[tuple[int, Mapping[str, Any]]]:
        stmt = self._insert(conn, Student)
        new = stmt.excluded
        set_ = {name: func.coalesce(new[name], Student.__table__.c[name]) for name in _IDENTITY}
        stmt = stmt.on_conflict_do_update(
            index_elements=[Student.student_key], set_=set_
        ).returning(Student.id, *STATE_COLUMNS)
        result = await conn.execute(stmt, rows)
        return [(row.id, dict(row._mapping)) for row in result.all()]

    async def upsert_notebooks(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        # One writer at a time here (SQLite's BEGIN IMMEDIATE): the upsert also
        # advances last_seen, so touch_notebooks has nothing left to do.
        stmt = self._insert(conn, Notebook)
        last_seen = self._greatest(conn, Notebook.last_seen, stmt.excluded.last_seen)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Notebook.path], set_={"last_seen": last_seen}
        ).returning(Notebook.id, Notebook.path)
        return {path: pk for pk, path in (await conn.execute(stmt, rows)).all()}

    async def touch_notebooks(self, conn: AsyncConnection, rows: Rows) -> None:
        return None

    async def upsert_sessions(
        self, conn: AsyncConnection, rows: Rows
    ) -> dict[tuple[int, str], int]:
        stmt = self._insert(conn, LearningSession)
        last_seen = self._greatest(conn, LearningSession.last_seen, stmt.excluded.last_seen)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LearningSession.student_id, LearningSession.session_key],
            set_={"last_seen": last_seen},
        ).returning(LearningSession.id, LearningSession.student_id, LearningSession.session_key)
        result = await conn.execute(stmt, rows)
        return {(student, key): pk for pk, student, key in result.all()}

    async def insert_events(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        stmt = (
            self._insert(conn, Event)
            .on_conflict_do_nothing(index_elements=[Event.event_id])
            .returning(Event.id, Event.event_id)
        )
        return {event_id: pk for pk, event_id in (await conn.execute(stmt, rows)).all()}

    async def insert_executions(self, conn: AsyncConnection, rows: Rows) -> None:
        if conn.dialect.name != "sqlite":
            await conn.execute(insert(CellExecution), rows)
            return
        columns = list(rows[0])
        sql = (
            f"INSERT INTO cell_executions ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        await driver_executemany(conn, "insert", sql, CellExecution.__table__, columns, rows)

    async def update_states(self, conn: AsyncConnection, rows: Rows) -> None:
        columns = [name for name in rows[0] if name != "id"]
        if conn.dialect.name == "sqlite":
            assignments = ", ".join(f"{c} = ?" for c in columns)
            sql = f"UPDATE students SET {assignments} WHERE id = ?"
            await driver_executemany(conn, "update", sql, Student.__table__, [*columns, "id"], rows)
            return
        # Bind names must differ from column names in an executemany UPDATE.
        stmt = (
            update(Student)
            .where(Student.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in columns})
        )
        await conn.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])


async def driver_executemany(
    conn: AsyncConnection,
    operation: str,
    sql: str,
    table: FromClause,
    columns: Sequence[str],
    rows: Rows,
) -> None:
    """`sql` (one `?` per column, in order) for every row, through the SQLite driver's
    executemany, inside the transaction of `conn`.

    SQLAlchemy's executemany builds each row's parameters in Python, a processor
    call per value; here each column's processor is looked up once and applied to
    the column's values in one pass (the same processors, so the stored values are
    the same), and columns whose type needs none are passed as they are.
    """
    dialect = conn.dialect
    values = []
    for column in columns:
        kind = table.c[column].type
        process = kind.dialect_impl(dialect).bind_processor(dialect)
        cells = [row[column] for row in rows]
        values.append([process(v) for v in cells] if process is not None else cells)
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.in_transaction:
        # Outside a transaction each row would commit on its own.
        raise RuntimeError("bulk statements must run inside the group's transaction")
    started = time.perf_counter()
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
    if isinstance(kind, (String, Text)):
        return "text"
    return "text"  # JSON goes as text and is cast in the SELECT


def _unnest(table: FromClause, columns: Sequence[str], named: bool = False) -> str:
    """unnest() over one array parameter per column: $1, $2… or :name for text()."""
    arrays = ", ".join(
        f"CAST(:{c} AS {_pg_type(table, c)}[])" if named else f"${n}::{_pg_type(table, c)}[]"
        for n, c in enumerate(columns, start=1)
    )
    return f"unnest({arrays}) AS u({', '.join(columns)})"


def _arrays(rows: Rows, columns: Sequence[str]) -> list[list[Any]]:
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


def unnest_sql(table: FromClause, columns: Sequence[str]) -> str:
    """unnest() of one $n array parameter per column of `table`, aliased u(columns)."""
    return _unnest(table, columns)


def arrays(rows: Rows, columns: Sequence[str]) -> list[list[Any]]:
    """One list per column (the unnest parameters) from row dicts."""
    return _arrays(rows, columns)


class PostgresBulk:
    """Runs on the asyncpg connection under SQLAlchemy's transaction: at a few
    hundred commits per second, SQLAlchemy's per-statement layers cost more CPU
    than PostgreSQL takes to do the work."""

    def __init__(self) -> None:
        students = Student.__table__
        self._student_columns = ["student_key", *_IDENTITY, "first_seen", "last_seen"]
        returning = ", ".join(["id", *(c.name for c in STATE_COLUMNS)])
        identity = ", ".join(f"{c} = coalesce(excluded.{c}, students.{c})" for c in _IDENTITY)
        # Through SQLAlchemy, and first: its asyncpg adapter opens the transaction
        # lazily, on the first statement it runs; the others then join it.
        self._students_sql = text(
            f"INSERT INTO students ({', '.join(self._student_columns)}) "
            f"SELECT * FROM {_unnest(students, self._student_columns, named=True)} "
            f"ON CONFLICT (student_key) DO UPDATE SET {identity} RETURNING {returning}"
        )
        self._notebook_columns = ["path", "first_seen", "last_seen"]
        # Every group of every lane and worker writes the same few notebook rows:
        # here they are only read (a missing one inserted), and their last_seen
        # is advanced at the end of the group (touch_notebooks), so the row lock
        # is held from there to COMMIT only.
        self._notebooks_sql = (
            f"WITH u AS (SELECT * FROM {_unnest(Notebook.__table__, self._notebook_columns)}), "
            "ins AS (INSERT INTO notebooks (path, first_seen, last_seen) SELECT * FROM u "
            "ON CONFLICT (path) DO NOTHING RETURNING id, path) "
            "SELECT id, path FROM ins UNION ALL "
            "SELECT n.id, n.path FROM notebooks n JOIN u USING (path)"
        )
        # A row another transaction inserted meanwhile is not in the statement's
        # snapshot: read once more, after it committed.
        self._notebook_ids_sql = "SELECT id, path FROM notebooks WHERE path = ANY($1::text[])"
        self._touch_notebooks_sql = (
            "UPDATE notebooks AS n SET last_seen = u.last_seen "
            "FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, last_seen) "
            "WHERE n.id = u.id AND n.last_seen < u.last_seen"
        )
        self._session_columns = ["student_id", "session_key", "first_seen", "last_seen"]
        self._sessions_sql = (
            f"INSERT INTO sessions ({', '.join(self._session_columns)}) "
            f"SELECT * FROM {_unnest(LearningSession.__table__, self._session_columns)} "
            "ON CONFLICT (student_id, session_key) DO UPDATE SET "
            "last_seen = greatest(sessions.last_seen, excluded.last_seen) "
            "RETURNING id, student_id, session_key"
        )
        events = Event.__table__
        self._event_columns = [c.name for c in events.columns if c.name != "id"]
        select_list = ", ".join(
            "u.extra::json" if c == "extra" else f"u.{c}" for c in self._event_columns
        )
        # event_ids is the idempotency key (events is partitioned by event_time
        # and cannot hold a unique key on event_id alone; see partitions.py):
        # only the events whose eventId was new there are stored.
        self._events_sql = (
            f"WITH u AS (SELECT * FROM {_unnest(events, self._event_columns)}), "
            "fresh AS (INSERT INTO event_ids (event_id, event_time) "
            "SELECT event_id, event_time FROM u ON CONFLICT (event_id) DO NOTHING "
            "RETURNING event_id) "
            f"INSERT INTO events ({', '.join(self._event_columns)}) "
            f"SELECT {select_list} FROM u JOIN fresh USING (event_id) RETURNING id, event_id"
        )
        executions = CellExecution.__table__
        self._execution_columns = [c.name for c in executions.columns if c.name != "id"]
        self._executions_sql = (
            f"INSERT INTO cell_executions ({', '.join(self._execution_columns)}) "
            f"SELECT * FROM {_unnest(executions, self._execution_columns)}"
        )
        self._update_sql: dict[tuple[str, ...], str] = {}

    async def _fetch(
        self, conn: AsyncConnection, operation: str, sql: str, args: list[list[Any]]
    ) -> list[Any]:
        return await pg_fetch(conn, operation, sql, args)

    async def upsert_students(
        self, conn: AsyncConnection, rows: Rows
    ) -> Sequence[tuple[int, Mapping[str, Any]]]:
        params = {c: [row[c] for row in rows] for c in self._student_columns}
        result = await conn.execute(self._students_sql, params)
        return [(row.id, dict(row._mapping)) for row in result.all()]

    async def upsert_notebooks(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        args = _arrays(rows, self._notebook_columns)
        records = await self._fetch(conn, "insert", self._notebooks_sql, args)
        ids = {r["path"]: r["id"] for r in records}
        missing = [row["path"] for row in rows if row["path"] not in ids]
        if missing:
            records = await self._fetch(conn, "select", self._notebook_ids_sql, [missing])
            ids.update((r["path"], r["id"]) for r in records)
        return ids

    async def touch_notebooks(self, conn: AsyncConnection, rows: Rows) -> None:
        args = _arrays(rows, ["id", "last_seen"])
        await self._fetch(conn, "update", self._touch_notebooks_sql, args)

    async def upsert_sessions(
        self, conn: AsyncConnection, rows: Rows
    ) -> dict[tuple[int, str], int]:
        args = _arrays(rows, self._session_columns)
        records = await self._fetch(conn, "insert", self._sessions_sql, args)
        return {(r["student_id"], r["session_key"]): r["id"] for r in records}

    async def insert_events(self, conn: AsyncConnection, rows: Rows) -> dict[str, int]:
        args = _arrays(rows, self._event_columns)
        extra = self._event_columns.index("extra")
        args[extra] = [orjson.dumps(x).decode() if x is not None else None for x in args[extra]]
        records = await self._fetch(conn, "insert", self._events_sql, args)
        return {r["event_id"]: r["id"] for r in records}

    async def insert_executions(self, conn: AsyncConnection, rows: Rows) -> None:
        args = _arrays(rows, self._execution_columns)
        await self._fetch(conn, "insert", self._executions_sql, args)

    async def update_states(self, conn: AsyncConnection, rows: Rows) -> None:
        columns = tuple(rows[0])
        sql = self._update_sql.get(columns)
        if sql is None:
            assignments = ", ".join(f"{c} = u.{c}" for c in columns if c != "id")
            sql = (
                f"UPDATE students AS s SET {assignments} "
                f"FROM {_unnest(Student.__table__, columns)} WHERE s.id = u.id"
            )
            self._update_sql[columns] = sql
        await self._fetch(conn, "update", sql, _arrays(rows, columns))


_GENERIC = GenericBulk()
_POSTGRES = PostgresBulk()
