"""A bounded, durable FIFO of events on disk (stdlib sqlite3).

An event is in the queue from the moment the browser's batch is acknowledged
until the class server has acknowledged it, across restarts of Jupyter and
outages of any length the bound allows. SQLite in WAL mode with
`synchronous=FULL` makes each acknowledged batch survive a crash or power
loss; the calls run in a worker thread so the server's event loop never
waits on the disk. The same file records which messages a notification was
shown for (`announced`), so that one tab of all announces each, once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS announced (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE
);
"""
# The message ids of a term or two: a message older than that is long seen on the class server.
MAX_ANNOUNCED = 5000


class QueueFull(Exception):
    """The queue holds `max_events`; the batch was not stored."""


class QueueUnwritable(Exception):
    """The queue's file cannot be written (disk full, read-only, I/O error); nothing changed."""

    def __init__(self, reason: str, *, disk_full: bool) -> None:
        super().__init__(reason)
        self.disk_full = disk_full


def _unwritable(exc: sqlite3.Error | OSError, path: Path) -> QueueUnwritable:
    text = str(exc).lower()
    if "full" in text or "no space" in text:
        return QueueUnwritable(f"the disk holding {path} is full", disk_full=True)
    if "readonly" in text or "read-only" in text:
        return QueueUnwritable(f"{path} is read-only", disk_full=False)
    return QueueUnwritable(f"{path} cannot be written: {exc}", disk_full=False)


@dataclass(frozen=True)
class PutResult:
    stored: int
    duplicates: int
    length: int


@dataclass(frozen=True)
class QueuedEvent:
    seq: int
    body: dict[str, Any]


class DiskQueue:
    """Events waiting for the class server, oldest first, unique by eventId."""

    def __init__(self, path: Path, max_events: int) -> None:
        self.path = path
        self.max_events = max_events
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def put(self, events: list[dict[str, Any]]) -> PutResult:
        """Store a batch atomically; raise QueueFull (storing nothing) over the bound.

        Raises QueueUnwritable (storing nothing) when the file cannot be written.
        """
        return await asyncio.to_thread(self._writing, self._put, events)

    async def peek(self, limit: int) -> list[QueuedEvent]:
        return await asyncio.to_thread(self._peek, limit)

    async def delete(self, seqs: list[int]) -> None:
        """Remove delivered events; raises QueueUnwritable when the file cannot be written."""
        await asyncio.to_thread(self._writing, self._delete, seqs)

    async def length(self) -> int:
        return await asyncio.to_thread(self._length)

    async def get_meta(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get_meta, key)

    async def set_meta(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._writing, self._set_meta, key, value)

    async def claim_announcements(self, message_ids: list[str]) -> list[str]:
        """The ids never claimed before (now claimed, durably): whoever asks first gets each.

        Raises QueueUnwritable (claiming nothing) when the file cannot be written.
        """
        return await asyncio.to_thread(self._writing, self._claim, message_ids)

    def _writing(self, write: Callable[..., _T], *args: Any) -> _T:
        try:
            return write(*args)
        except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
            raise _unwritable(exc, self.path) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the disk queue is not open")
        return self._conn

    def _put(self, events: list[dict[str, Any]]) -> PutResult:
        now = time.time()
        rows = [
            (event["eventId"], json.dumps(event, separators=(",", ":")), now) for event in events
        ]
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                (length,) = conn.execute("SELECT count(*) FROM events").fetchone()
                if length + len(rows) > self.max_events:
                    raise QueueFull(f"{length} events queued, limit {self.max_events}")
                before = conn.total_changes
                conn.executemany(
                    "INSERT OR IGNORE INTO events (event_id, body, enqueued_at) VALUES (?, ?, ?)",
                    rows,
                )
                stored = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return PutResult(stored=stored, duplicates=len(rows) - stored, length=length + stored)

    def _peek(self, limit: int) -> list[QueuedEvent]:
        with self._lock:
            cursor = self._connection().execute(
                "SELECT seq, body FROM events ORDER BY seq LIMIT ?", (limit,)
            )
            return [QueuedEvent(seq, json.loads(body)) for seq, body in cursor]

    def _delete(self, seqs: list[int]) -> None:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    def _claim(self, message_ids: list[str]) -> list[str]:
        claimed: list[str] = []
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for message_id in dict.fromkeys(message_ids):
                    before = conn.total_changes
                    conn.execute(
                        "INSERT OR IGNORE INTO announced (message_id) VALUES (?)", (message_id,)
                    )
                    if conn.total_changes > before:
                        claimed.append(message_id)
                if claimed:
                    conn.execute(
                        "DELETE FROM announced WHERE seq <= (SELECT max(seq) FROM announced) - ?",
                        (MAX_ANNOUNCED,),
                    )
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return claimed

    def _length(self) -> int:
        with self._lock:
            (length,) = self._connection().execute("SELECT count(*) FROM events").fetchone()
            return int(length)

    def _get_meta(self, key: str) -> str | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT value FROM meta WHERE key = ?", (key,))
                .fetchone()
            )
            return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._connection().execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def _rollback(conn: sqlite3.Connection) -> None:
    # A failed COMMIT (disk full) may already have ended the transaction.
    if conn.in_transaction:
        conn.execute("ROLLBACK")
