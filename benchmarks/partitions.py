"""The dashboard's queries on PostgreSQL with 10 million stored events.

Creates a fresh database per layout on --pg-admin-url (trust auth), migrated by
the package's migrations: `partitioned` (head: monthly partitions, event_ids)
and `plain` (revision 0003: one table each, the baseline). Loads --events
events spread over the lessons of the last --months months (3 two-hour lessons
a week, --students students, 20 notebooks, ~82 % cell executions of which 12 %
fail) plus their cell_executions, server-side with INSERT ... SELECT over
generate_series (not through the API), with the secondary indexes built after
the load. Runs ANALYZE, then times each dashboard query as the code issues it
(cell_monitor/storage/queries.py, activity.py, live_store.py) --repeat times
with varied students/notebooks and prints p50/p95 in ms. Finally times a prune
of the oldest month (`cell-monitor db prune`'s code) on the partitioned layout
(and on the plain one with --prune-plain: row-by-row deletes, slow).

Usage (from the repository root; figures in docs/benchmarks.md):

    .venv/bin/python benchmarks/partitions.py                        # partitioned, 10M
    .venv/bin/python benchmarks/partitions.py --layout partitioned --events 1000000
    .venv/bin/python benchmarks/partitions.py --keep                 # keep the databases

A query is one line in QUERIES: a name, an optional untimed setup and the
timed call.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.reports.activity import window
from cell_monitor.reports.activity_queries import executions_per_minute
from cell_monitor.reports.progress import error_hotspots, list_notebooks, notebook_progress
from cell_monitor.reports.queries import (
    EventFilters,
    decode_cursor,
    list_events,
    list_students,
    stats,
)
from cell_monitor.reports.timeline import student_detail
from cell_monitor.storage import migrations, partitions
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.live_store import live_states
from cell_monitor.storage.retention import prune

# The revision whose schema LOAD_SQL fills (the partitioned log).
LOG_REVISION = "0005"
NOTEBOOKS = 20
LESSONS_PER_WEEK = 3
LESSON_SECONDS = 2 * 3600


@dataclass
class Context:
    engine: AsyncEngine
    now: datetime
    students: int
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def student(self) -> str:
        return f"student{self.rng.randint(1, self.students)}@example.edu"

    def notebook(self) -> str:
        return f"course/week{self.rng.randint(1, NOTEBOOKS):02d}.ipynb"


async def _cursor(ctx: Context, filters: EventFilters) -> tuple[EventFilters, Any]:
    """A second page's starting point: page one, untimed."""
    page = await list_events(ctx.engine, filters, limit=50)
    return filters, decode_cursor(page.next_cursor) if page.next_cursor else None


def _page2(ctx: Context, arg: tuple[EventFilters, Any]) -> Awaitable[Any]:
    return list_events(ctx.engine, arg[0], limit=50, after=arg[1])


Setup = Callable[[Context], Awaitable[Any]] | None
Run = Callable[[Context, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Query:
    name: str
    run: Run
    setup: Setup = None


QUERIES: list[Query] = [
    Query("students list", lambda c, _: list_students(c.engine)),
    Query("stats", lambda c, _: stats(c.engine)),
    Query("live snapshot", lambda c, _: live_states(c.engine)),
    Query(
        "events by student, page 1",
        lambda c, _: list_events(c.engine, EventFilters(student=c.student()), limit=50),
    ),
    Query("events by student, page 2", _page2, lambda c: _cursor(c, EventFilters(c.student()))),
    Query(
        "events by notebook, page 1",
        lambda c, _: list_events(c.engine, EventFilters(notebook=c.notebook()), limit=50),
    ),
    Query(
        "events by notebook, page 2",
        _page2,
        lambda c: _cursor(c, EventFilters(notebook=c.notebook())),
    ),
    Query(
        "activity per minute, 1 h", lambda c, _: executions_per_minute(c.engine, *window(1, c.now))
    ),
    Query(
        "activity per minute, 6 h", lambda c, _: executions_per_minute(c.engine, *window(6, c.now))
    ),
    Query(
        "activity per minute, 8 h", lambda c, _: executions_per_minute(c.engine, *window(8, c.now))
    ),
    # The dashboard's views (Progress, Errors, student detail).
    Query(
        "notebook list (counts over 24 h)",
        lambda c, _: list_notebooks(c.engine, c.now - timedelta(hours=24)),
    ),
    Query("progress heatmap", lambda c, _: notebook_progress(c.engine, c.notebook(), None)),
    Query(
        "hotspots, one notebook, 3 h",
        lambda c, _: error_hotspots(c.engine, c.notebook(), c.now - timedelta(hours=3), 50),
    ),
    Query(
        "hotspots, all notebooks, 1 h",
        lambda c, _: error_hotspots(c.engine, None, c.now - timedelta(hours=1), 50),
    ),
    Query(
        "hotspots, all notebooks, 24 h",
        lambda c, _: error_hotspots(c.engine, None, c.now - timedelta(hours=24), 50),
    ),
    Query(
        "hotspots, all notebooks, whole term",
        lambda c, _: error_hotspots(c.engine, None, None, 50),
    ),
    Query("student detail", lambda c, _: student_detail(c.engine, c.student(), limit=50)),
]


def _lessons(months: int) -> int:
    return months * 30 * LESSONS_PER_WEEK // 7


LOAD_SQL = [
    # Students, notebooks, one session per student and lesson.
    """INSERT INTO students (student_key, email_address, user_name, team_name,
                             first_seen, last_seen)
       SELECT 'student' || s || '@example.edu', 'student' || s || '@example.edu', 'Student ' || s,
              'team' || (s % 40), :start, :start FROM generate_series(1, :students) s""",
    """INSERT INTO notebooks (path, first_seen, last_seen)
       SELECT 'course/week' || lpad(n::text, 2, '0') || '.ipynb', :start, :start
       FROM generate_series(1, 20) n""",
    """INSERT INTO sessions (student_id, session_key, first_seen, last_seen)
       SELECT s, 'lesson' || l, :start, :start
       FROM generate_series(0, :lessons - 1) l, generate_series(1, :students) s
       ORDER BY l, s""",
    # Events: g-th event falls in lesson g * lessons / n, time-ordered like real ingest.
    """INSERT INTO events (event_id, event_type, event_time, received_at, student_id,
                           notebook_id, session_id, truncated)
       SELECT 'bench-' || g,
              CASE WHEN r < 0.82 THEN 'cell_executed' WHEN r < 0.90 THEN 'notebook_saved'
                   WHEN r < 0.95 THEN 'notebook_opened' WHEN r < 0.98 THEN 'notebook_closed'
                   ELSE 'help_requested' END,
              t, t + interval '40 milliseconds', s, 1 + (l / 4) % 20, l * :students + s, false
       FROM (SELECT g, random() AS r, 1 + floor(random() * :students)::int AS s, l,
                    :start + (l * :lesson_gap + (g - l * :per_lesson) * :step)
                             * interval '1 second' AS t
             FROM (SELECT g, (g / :per_lesson)::int AS l
                   FROM generate_series(:first, :last) g) x) y""",
]
EXECUTIONS_SQL = """
    INSERT INTO cell_executions (event_pk, student_id, notebook_id, event_time, cell_id,
        cell_index, cell_type, code, execution_count, has_error, error_name, error_message,
        traceback, result, duration_ms)
    SELECT id, student_id, notebook_id, event_time, 'cell-' || (id % 40), (id % 40)::int, 'code',
           'import pandas as pd' || chr(10) || 'df = pd.read_csv("data/week.csv")' || chr(10)
           || 'df.groupby("group").mean()', (id % 300)::int, err,
           CASE WHEN err THEN (ARRAY['NameError','TypeError','ValueError','KeyError',
                'IndexError','SyntaxError'])[1 + (id % 6)::int] END,
           CASE WHEN err THEN 'name ''df2'' is not defined' END,
           CASE WHEN err THEN 'Traceback (most recent call last):' || chr(10)
                || '  Cell In[12], line 3' || chr(10) || 'NameError: name ''df2'' is not defined'
                END,
           CASE WHEN NOT err THEN '   group  value' || chr(10) || '0  a      1.5' END,
           (random() * 900)::float8
    FROM (SELECT *, random() < 0.12 AS err FROM events
          WHERE event_type = 'cell_executed' AND id BETWEEN :first AND :last) x"""
COUNTERS_SQL = [
    """UPDATE students s SET event_count = c.n, first_seen = c.first, last_seen = c.last,
              state_version = c.n, last_execution_at = c.last,
              last_notebook = 'course/week01.ipynb'
       FROM (SELECT student_id, count(*) AS n, min(event_time) AS first,
                    max(event_time) AS last FROM events GROUP BY student_id) c
       WHERE s.id = c.student_id""",
    """UPDATE students s SET execution_count = c.n, error_count = c.e
       FROM (SELECT student_id, count(*) AS n, count(*) FILTER (WHERE has_error) AS e
             FROM cell_executions GROUP BY student_id) c WHERE s.id = c.student_id""",
]


_TYPES = {
    "start": "timestamptz",
    "students": "int",
    "lessons": "int",
    "per_lesson": "bigint",
    "lesson_gap": "bigint",
    "step": "float8",
    "first": "bigint",
    "last": "bigint",
}


def _sql(sql: str) -> Any:
    """text() with every parameter cast, so PostgreSQL needs no guessing."""
    for name, kind in _TYPES.items():
        sql = re.sub(rf":{name}\b", f"CAST(:{name} AS {kind})", sql)
    return text(sql)


def _url(admin: str, database: str) -> str:
    return make_url(admin).set(database=database).render_as_string(hide_password=False)


async def _admin(admin: str, statement: str) -> None:
    conn = await asyncpg.connect(_url(admin, "postgres").replace("+asyncpg", ""))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def load(engine: AsyncEngine, args: argparse.Namespace, start: datetime) -> float:
    """Fill the database; returns the seconds it took."""
    began = time.perf_counter()
    lessons = _lessons(args.months)
    per_lesson = -(-args.events // lessons)
    params = {
        "start": start,
        "students": args.students,
        "lessons": lessons,
        "per_lesson": per_lesson,
        "lesson_gap": (args.months * 30 * 86400) // lessons,
        "step": LESSON_SECONDS / per_lesson,
    }
    async with engine.begin() as conn:
        if await conn.run_sync(partitions.is_partitioned):
            now = datetime.now(timezone.utc)
            await conn.run_sync(partitions.ensure_range, start, now)
        indexes = (
            await conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_%' "
                    "AND tablename IN ('events', 'cell_executions')"
                )
            )
        ).all()
        for name, _ in indexes:
            await conn.execute(text(f"DROP INDEX {name}"))
        # Loading only: foreign keys are checked by the schema, not worth 18M lookups here.
        await conn.execute(text("SET session_replication_role = replica"))
        await conn.execute(text("SET maintenance_work_mem = '256MB'"))
        for sql in LOAD_SQL[:3]:
            await conn.execute(_sql(sql), params)
        chunk = 1_000_000
        for first in range(0, args.events, chunk):
            last = min(first + chunk, args.events) - 1
            await conn.execute(_sql(LOAD_SQL[3]), {**params, "first": first, "last": last})
            print(f"  events {last + 1:,} ({time.perf_counter() - began:.0f} s)", flush=True)
        await conn.execute(_sql(EXECUTIONS_SQL), {"first": 0, "last": 2**62})
        print(f"  cell_executions ({time.perf_counter() - began:.0f} s)", flush=True)
        if await conn.run_sync(partitions.is_partitioned):
            await conn.execute(
                text("INSERT INTO event_ids SELECT event_id, event_time FROM events")
            )
        for sql in COUNTERS_SQL:
            await conn.execute(text(sql))
        for _, definition in indexes:
            # pg_indexes shows a partitioned table's index as ON ONLY (no partitions).
            await conn.execute(text(definition.replace(" ON ONLY ", " ON ")))
        print(f"  indexes ({time.perf_counter() - began:.0f} s)", flush=True)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - began


async def verify(engine: AsyncEngine, events: int) -> None:
    """The log holds --events events, and what is derived from it agrees: else exit 1."""
    checks = {
        "events": "SELECT count(*) FROM events",
        "students' events": "SELECT sum(event_count) FROM students",
    }
    async with engine.connect() as conn:
        if await conn.run_sync(lambda c: inspect(c).has_table("event_ids")):
            checks["event ids"] = "SELECT count(*) FROM event_ids"
        executions = (await conn.execute(text("SELECT count(*) FROM cell_executions"))).scalar_one()
        typed = (
            await conn.execute(
                text("SELECT count(*) FROM events WHERE event_type = 'cell_executed'")
            )
        ).scalar_one()
        if await conn.run_sync(lambda c: inspect(c).has_table("event_type_counts")):
            checks["events per type"] = "SELECT sum(events) FROM event_type_counts"
        got = {
            name: int((await conn.execute(text(sql))).scalar_one()) for name, sql in checks.items()
        }
    print(
        "stored: "
        + ", ".join(f"{name} {n:,} of {events:,}" for name, n in got.items())
        + f"; executions {executions:,} of {typed:,}",
        flush=True,
    )
    if any(n != events for n in got.values()) or executions != typed:
        raise SystemExit("stored counts differ from what was loaded")


async def time_queries(ctx: Context, repeat: int) -> dict[str, tuple[float, float]]:
    results = {}
    for query in QUERIES:
        await query.run(ctx, await query.setup(ctx) if query.setup else None)  # warm-up
        samples = []
        for _ in range(repeat):
            arg = await query.setup(ctx) if query.setup else None
            began = time.perf_counter()
            await query.run(ctx, arg)
            samples.append((time.perf_counter() - began) * 1000)
        samples.sort()
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        results[query.name] = (statistics.median(samples), p95)
    return results


async def run_layout(args: argparse.Namespace, layout: str) -> dict[str, Any]:
    name = args.reuse or f"cell_monitor_bench_{layout}_{uuid.uuid4().hex[:8]}"
    if not args.reuse:
        await _admin(args.pg_admin_url, f"CREATE DATABASE {name}")
    url = _url(args.pg_admin_url, name)
    settings = Settings(database_url=url, slow_query_ms=1e9, db_command_timeout_seconds=7200)
    try:
        # The log is loaded at the revision that created it (LOAD_SQL writes the
        # log only); later revisions then build what they derive from it.
        revision = LOG_REVISION if layout == "partitioned" else "0003"
        if not args.reuse:
            await migrations.upgrade_async(settings, revision=revision)
        engine = create_engine(settings)
        now = datetime.now(timezone.utc)
        start = partitions.add_months(partitions.month_start(now), -args.months)
        try:
            seconds = 0.0
            if not args.reuse:
                print(f"{layout}: loading {args.events:,} events into {name}", flush=True)
                seconds = await load(engine, args, start)
                print(f"{layout}: loaded in {seconds:.0f} s", flush=True)
            upgrade_s = 0.0
            if layout == "partitioned":
                began = time.perf_counter()
                await migrations.upgrade_async(settings, revision="head")
                upgrade_s = time.perf_counter() - began
                async with engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(text("ANALYZE"))
                print(f"{layout}: upgraded to head in {upgrade_s:.0f} s", flush=True)
            await verify(engine, args.events)
            async with engine.connect() as conn:
                last = (await conn.execute(text("SELECT max(event_time) FROM events"))).scalar()
                size = (
                    await conn.execute(
                        text("SELECT pg_size_pretty(pg_database_size(current_database()))")
                    )
                ).scalar()
            ctx = Context(engine, last, args.students)
            result: dict[str, Any] = {"load_s": seconds, "upgrade_s": upgrade_s, "size": size}
            result["queries"] = await time_queries(ctx, args.repeat)
            if not args.no_prune and (layout == "partitioned" or args.prune_plain):
                age = now - partitions.add_months(start, 1)
                began = time.perf_counter()
                report = await prune(engine, settings, age)
                result["prune_s"] = time.perf_counter() - began
                result["prune"] = report
            return result
        finally:
            await engine.dispose()
    finally:
        if not args.keep and not args.reuse:
            await _admin(args.pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def report(results: dict[str, dict[str, Any]]) -> None:
    layouts = list(results)
    print()
    print("| query | " + " | ".join(f"{x} p50 / p95 ms" for x in layouts) + " |")
    print("|---|" + "---|" * len(layouts))
    for query in QUERIES:
        cells = []
        for layout in layouts:
            p50, p95 = results[layout]["queries"][query.name]
            cells.append(f"{p50:.1f} / {p95:.1f}")
        print(f"| {query.name} | " + " | ".join(cells) + " |")
    for layout, result in results.items():
        print(
            f"{layout}: load {result['load_s']:.0f} s, upgrade to head "
            f"{result['upgrade_s']:.0f} s, database {result['size']}",
            end="",
        )
        if "prune" in result:
            pruned = result["prune"]
            print(
                f", prune of the oldest month {result['prune_s']:.1f} s "
                f"({pruned.events:,} events, {pruned.executions:,} executions, "
                f"{pruned.event_ids:,} event ids, "
                f"partitions: {', '.join(pruned.partitions) or 'none'})",
                end="",
            )
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--layout",
        choices=["both", "partitioned", "plain"],
        default="partitioned",
        help="plain (revision 0003, the baseline of docs/benchmarks.md) runs only with code of "
        "that schema: later revisions added columns the queries read (e.g. 0006's "
        "students.help_dismissed_at); run it from a checkout of 94c3171 or earlier",
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--prune-plain", action="store_true", help="Also time the plain prune.")
    parser.add_argument("--keep", action="store_true", help="Keep the databases.")
    parser.add_argument("--no-prune", action="store_true", help="Do not time a prune.")
    parser.add_argument(
        "--reuse",
        metavar="DATABASE",
        help="Time a database kept by --keep (partitioned layout) instead of loading one: "
        "it is upgraded to head first (the upgrade is timed), and kept.",
    )
    args = parser.parse_args()
    layouts = ["partitioned", "plain"] if args.layout == "both" else [args.layout]
    if "plain" in layouts and migrations.head_revision() > "0005":
        parser.error("--layout plain needs code at schema 0005 or earlier (see --help)")

    async def _all() -> dict[str, dict[str, Any]]:
        return {layout: await run_layout(args, layout) for layout in layouts}

    report(asyncio.run(_all()))


if __name__ == "__main__":
    main()
