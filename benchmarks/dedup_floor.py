"""The dedup-insert floor: what PostgreSQL itself takes to store events exactly once.

One asyncpg connection inserts batches of `batch` events (an event log row:
eventId, type, time, student, notebook) with
`INSERT ... SELECT unnest(...) ON CONFLICT (event_id) DO NOTHING RETURNING`,
one transaction per batch, for `seconds` seconds, into a table of its own with
a bigserial key and the unique key on event_id. No HTTP, no validation, no
other table: cell-monitor's PostgreSQL batch rate is compared with this
(benchmarks/ingest.py). The count is verified: every returned row stored once,
a re-sent batch returns nothing. The CPU time of the connection's PostgreSQL
process is read from /proc before it closes.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg

TABLE = """CREATE TABLE floor_events (
    id bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, event_type text NOT NULL,
    event_time timestamptz NOT NULL, student text NOT NULL, notebook text)"""
INSERT = """INSERT INTO floor_events (event_id, event_type, event_time, student, notebook)
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
    ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id"""


@dataclass
class FloorResult:
    rows: int
    seconds: float
    rows_per_s: float
    verified: bool
    db_cpu_s: float = 0.0  # the PostgreSQL process of the connection, during the inserts
    failure: str = ""


def _batch(start: int, size: int, base: datetime) -> list[list[Any]]:
    ids, types, times, students, notebooks = [], [], [], [], []
    for n in range(start, start + size):
        ids.append(f"floor-{n}")
        types.append("cell_executed")
        times.append(base + timedelta(milliseconds=n))
        students.append(f"student{n % 200}@example.org")
        notebooks.append("lessons/01-loops.ipynb")
    return [ids, types, times, students, notebooks]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, seconds: float, batch: int) -> FloorResult:
    """Insert for `seconds` into a fresh table of the (empty) database at `url`."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(TABLE)
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        cpu_before = _cpu_seconds(backend)
        base = datetime.now(timezone.utc)
        # Batches are built before the clock starts: the floor is the database's part.
        batches = [_batch(0, batch, base)]
        stored = 0
        began = time.perf_counter()
        n = 0
        while time.perf_counter() - began < seconds:
            if n + 1 >= len(batches):
                batches.append(_batch((n + 1) * batch, batch, base))
            async with conn.transaction():
                stored += len(await conn.fetch(INSERT, *batches[n]))
            n += 1
        elapsed = time.perf_counter() - began
        db_cpu = _cpu_seconds(backend) - cpu_before
        async with conn.transaction():
            again = len(await conn.fetch(INSERT, *batches[0]))
        count = await conn.fetchval("SELECT count(*) FROM floor_events")
    finally:
        await conn.close()
    failure = ""
    if count != stored or stored != n * batch:
        failure = f"{count} rows stored, {stored} returned, {n * batch} sent"
    elif again:
        failure = f"a re-sent batch stored {again} rows again"
    return FloorResult(stored, elapsed, stored / elapsed, not failure, db_cpu, failure)


def run(url: str, seconds: float, batch: int) -> FloorResult:
    return asyncio.run(measure(url, seconds, batch))
