"""A bounded, durable FIFO of events on disk (stdlib sqlite3).

An event is in the queue from the moment the browser's batch is acknowledged
until the class server has acknowledged it, across restarts of Jupyter and
outages of any length the bound allows. SQLite in WAL mode with
`synchronous=FULL` makes each acknowledged batch survive a crash or power
loss; the calls run in a worker thread so the server's event loop never
waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class QueueFull(Exception):
    """The queue holds `max_events`; the batch was not stored."""


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
        """Store a batch atomically; raise QueueFull (storing nothing) over the bound."""
        return await asyncio.to_thread(self._put, events)

    async def peek(self, limit: int) -> list[QueuedEvent]:
        return await asyncio.to_thread(self._peek, limit)

    async def delete(self, seqs: list[int]) -> None:
        await asyncio.to_thread(self._delete, seqs)

    async def length(self) -> int:
        return await asyncio.to_thread(self._length)

    async def get_meta(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get_meta, key)

    async def set_meta(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._set_meta, key, value)

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
                conn.execute("ROLLBACK")
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
            conn.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])
            conn.execute("COMMIT")

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
