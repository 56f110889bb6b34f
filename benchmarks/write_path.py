"""What each table of the write path costs per event, report tables included.

Builds --groups groups of --group-size validated events (cell executions of
--students students over 40 cells of one notebook, 12 % failing; 200 students,
1,000 events: what a busy group commit holds), then writes each group with the
server's own group write (`storage/writer.py`, one transaction) on a fresh
database, timing every step: the student upsert, notebooks, sessions, events
(with event_ids on PostgreSQL), executions, the live states, each report table
and the COMMIT. A step's time is the wall time of its Python part (building
rows, encoding) plus its round trip, on one connection and nothing else
running, so the figures add up to the group's time; the process CPU per event
(SQLite works in a thread of this process) is the steadier figure on a shared
machine; on PostgreSQL, so is the CPU its backend serving the connection took
(WAL writer and checkpointer left out). Verifies the stored counts
(events, per-type counters) against what was written; exit status 1 if not.

    .venv/bin/python benchmarks/write_path.py --backend postgresql --groups 30
    .venv/bin/python benchmarks/write_path.py --backend sqlite --groups 30
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cell_monitor.config import Settings
from cell_monitor.ingest.parse import validate_batch
from cell_monitor.storage import migrations, report_tables, writer
from cell_monitor.storage.engine import WRITE_TX, create_engine

# (module, function, label): the steps of write_group, in the order it runs them.
STEPS = [
    (writer, "_lock_students", "students (insert, lock)"),
    (writer, "_upsert_notebooks", "notebooks"),
    (writer, "_upsert_sessions", "sessions"),
    (writer, "_insert_events", "events (+ event_ids, cell_executions)"),
    (writer, "_store_states", "students (live state)"),
    (report_tables, "_record_latest_runs", "report: latest_runs"),
    (report_tables, "_record_errors", "report: error groups, students"),
    (report_tables, "_add_counters", "shared: counters (group counts, minutes, types), notebooks"),
    # Older code (a comparison run): the notebooks' last_seen in a statement of its own.
    (writer, "_touch_notebooks", "notebooks (last seen)"),
]
# Older writers (a comparison run): steps that are parts of the ones above now.
OLDER_STEPS = [
    (writer, "_insert_executions", "cell_executions"),
    (report_tables, "_record_minutes", "report: execution_minutes"),
    (report_tables, "add_error_minutes", "report: error_minutes"),
    (report_tables, "_record_types", "report: event_type_counts"),
]


def events_of(group: int, size: int, students: int, start: datetime) -> list[dict[str, Any]]:
    rng = random.Random(group)
    items = []
    for n in range(size):
        student = rng.randrange(students)
        failed = rng.random() < 0.12
        item: dict[str, Any] = {
            "eventId": f"write-{group}-{n}",
            "eventType": "cell_executed",
            "eventTime": (start + timedelta(milliseconds=group * size + n)).isoformat(),
            "emailAddress": f"student{student}@example.org",
            "userName": f"Student {student}",
            "teamName": f"team-{student % 8}",
            "sessionId": f"session-{student}",
            "notebookPath": "lessons/01-loops.ipynb",
            "cellIndex": rng.randrange(40),
            "cellType": "code",
            "code": "total = 0\nfor i in range(10):\n    total += i\nprint(total)",
            "executionCount": n,
            "hasError": failed,
            "result": None if failed else "45",
            "executionDurationMs": 12.5,
        }
        if failed:
            item.update(errorName="NameError", errorMessage=f"name 'x{n % 5}' is not defined")
        items.append(item)
    return items


def timed(totals: dict[str, float], label: str, fn: Callable[..., Awaitable[Any]]) -> Any:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - began

    return wrapper


async def run(url: str, args: argparse.Namespace) -> int:
    settings = Settings(database_url=url, slow_query_ms=1e9)
    await migrations.upgrade_async(settings)
    engine = create_engine(settings).execution_options(**{WRITE_TX: True})
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    groups = []
    for g in range(args.groups + 1):
        items = events_of(g, args.group_size, args.students, start)
        groups.append(validate_batch(items, settings).events)
    totals: dict[str, float] = defaultdict(float)
    steps = STEPS if hasattr(report_tables, "_add_counters") else STEPS + OLDER_STEPS
    for module, name, label in steps:
        if hasattr(module, name):  # older code (a comparison run) may lack a step
            setattr(module, name, timed(totals, label, getattr(module, name)))
    backend = None
    try:
        # Group 0 warms up (new students, prepared statements); the rest is timed.
        for n, events in enumerate(groups):
            if n == 1:
                totals.clear()
                backend = await backend_pid(engine)
                backend_began = backend_cpu(backend)
                cpu_began = time.process_time()
            began = time.perf_counter()
            async with engine.begin() as conn:
                await writer.write_group(conn, events)
                committing = time.perf_counter()
            totals["COMMIT"] += time.perf_counter() - committing
            totals["group (all)"] += time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        db_cpu = backend_cpu(backend) - backend_began
        if backend is None or backend != await backend_pid(engine):
            db_cpu = None  # SQLite, or the groups did not all run on one connection
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()
            counted = (
                await conn.execute(text("SELECT sum(events) FROM event_type_counts"))
            ).scalar_one()
    finally:
        await engine.dispose()
    timed_events = args.groups * args.group_size
    everything = totals.pop("group (all)")
    print(
        f"{url.split(':')[0]}: {args.groups} groups of {args.group_size} events, "
        f"{args.students} students; load average {os.getloadavg()[0]:.1f}"
    )
    print("| step | µs per event | share |")
    print("|---|---|---|")
    for label, seconds in totals.items():
        print(f"| {label} | {seconds / timed_events * 1e6:.1f} | {seconds / everything:.0%} |")
    rest = everything - sum(totals.values())
    print(f"| other (row grouping in writer.py) | {rest / timed_events * 1e6:.1f} | "
          f"{rest / everything:.0%} |")  # fmt: skip
    print(
        f"| **group write** | **{everything / timed_events * 1e6:.1f}** | "
        f"{timed_events / everything:,.0f} events/s on one connection |"
    )
    # CPU of the whole process (SQLite's work included: it runs in a thread of it),
    # steadier than the wall times when other processes share the machine.
    print(f"process CPU: {cpu / timed_events * 1e6:.1f} µs per event")
    if db_cpu is not None:
        print(f"PostgreSQL backend CPU: {db_cpu / timed_events * 1e6:.1f} µs per event")
    sent = (args.groups + 1) * args.group_size
    print(f"stored: events {stored} of {sent}, per-type counters {counted} of {sent}")
    return 0 if stored == counted == sent else 1


async def backend_pid(engine: Any) -> int | None:
    """The PostgreSQL backend of the pooled connection the groups use (LIFO: the last one)."""
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def backend_cpu(pid: int | None) -> float:
    """User + system CPU seconds of process `pid` so far (0 for none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def pg_admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--groups", type=int, default=30)
    parser.add_argument("--group-size", type=int, default=1000)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-url", help="write into this empty database instead (kept)")
    args = parser.parse_args()
    if args.database_url:
        return asyncio.run(run(args.database_url, args))
    if urlsplit(args.pg_admin_url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("only a PostgreSQL on 127.0.0.1 is used")
    if args.backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-write-") as tmp:
            return asyncio.run(run(f"sqlite:///{tmp}/bench.sqlite3", args))
    name = f"cell_monitor_bench_{secrets.token_hex(4)}"
    asyncio.run(pg_admin(args.pg_admin_url, f"CREATE DATABASE {name}"))
    try:
        return asyncio.run(
            run(urlsplit(args.pg_admin_url)._replace(path=f"/{name}").geturl(), args)
        )
    finally:
        asyncio.run(pg_admin(args.pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    sys.exit(main())
