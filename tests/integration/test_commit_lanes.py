"""Group commit in buckets of students (SQLite, PostgreSQL): split, answered in order, once.

A request whose events belong to students of several buckets is split by bucket
and answered when every part committed, each outcome at its event's position;
a student's events stay in one bucket, in at most one commit at a time, so their
live state advances in order. Commits that overlap take equal shares of what waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.ingest.committer import (
    BUCKETS_PER_COMMIT,
    GroupCommitter,
    StorageUnavailable,
    bucket_of,
)
from cell_monitor.storage.engine import create_engine
from tests.integration.test_committer_isolation import record
from tests.support import make_settings, query_sql

STUDENTS = [f"s{n}@example.org" for n in range(12)]


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def started(
    engine: AsyncEngine, commits: int, lane_events: int = 300, max_group_events: int = 50
) -> GroupCommitter:
    committer = GroupCommitter(
        engine,
        max_group_events=max_group_events,
        max_queued_events=10_000,
        concurrency=commits,
        lane_events=lane_events,
    )
    committer.start()
    return committer


def test_a_student_always_has_the_same_bucket() -> None:
    buckets = {bucket_of(student, 3) for student in STUDENTS}
    assert buckets == {0, 1, 2}  # these twelve students spread over every bucket
    assert [bucket_of(s, 24) for s in STUDENTS] == [bucket_of(s, 24) for s in STUDENTS]
    assert len({bucket_of(s, 24) for s in STUDENTS}) > 6
    assert {bucket_of(s, 1) for s in STUDENTS} == {0}


@pytest.mark.parametrize("commits", [1, 3])
async def test_a_request_across_buckets_is_answered_in_order_and_stored_once(
    engine: AsyncEngine, settings: Settings, commits: int
) -> None:
    committer = await started(engine, commits)
    try:
        first = [record(s, n) for n in range(4) for s in STUDENTS]  # students interleaved
        resent = [replace(first[5]), replace(first[17])]  # as parsed again from a body
        outcomes = await committer.submit([*first, *resent])
        assert outcomes == ["inserted"] * len(first) + ["duplicate", "duplicate"]
        # Concurrent requests, each across buckets, half of it resent.
        again = [
            [*map(replace, first[k : k + 6]), *(record(s, 10 + k) for s in STUDENTS[:6])]
            for k in range(0, 24, 6)
        ]
        answers = await asyncio.gather(*(committer.submit(batch) for batch in again))
        for answer in answers:
            assert answer == ["duplicate"] * 6 + ["inserted"] * 6
    finally:
        await committer.stop()
    url = settings.database_url
    stored = await asyncio.to_thread(query_sql, url, "SELECT count(*) FROM events")
    assert stored[0][0] == len(first) + 4 * 6
    # Each student's counters (kept with their live state) count each event once.
    rows = await asyncio.to_thread(
        query_sql, url, "SELECT student_key, event_count, execution_count FROM students"
    )
    expected = {s: 4 + 4 * (s in STUDENTS[:6]) for s in STUDENTS}
    assert {key: count for key, count, _ in rows} == expected
    assert {key: count for key, _, count in rows} == expected


async def test_a_failed_part_fails_the_whole_request(tmp_path: object, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("one bucket on SQLite")
    settings = make_settings("postgresql://postgres@127.0.0.1:1/none", tmp_path)  # type: ignore[arg-type]
    engine = create_engine(settings)
    committer = await started(engine, 3)
    try:
        with pytest.raises(StorageUnavailable):
            await committer.submit([record(s, 0) for s in STUDENTS])
    finally:
        await committer.stop()
        await engine.dispose()


async def test_commits_creating_the_same_notebook_at_once_both_find_it(
    engine: AsyncEngine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cell_monitor.ingest.committer")
    committer = await started(engine, 3)
    try:
        for round_ in range(3):
            path = f"new-{round_}.ipynb"  # new to every commit's transaction at once
            batches = [[record(s, 100 + round_, notebook_path=path)] for s in STUDENTS]
            answers = await asyncio.gather(*(committer.submit(b) for b in batches))
            assert all(answer == ["inserted"] for answer in answers)
    finally:
        await committer.stop()
    # Each group found the notebook at once: none was refused and retried alone.
    assert not [r for r in caplog.records if "isolating" in r.getMessage()]
    url = settings.database_url
    orphans = await asyncio.to_thread(
        query_sql, url, "SELECT count(*) FROM events WHERE notebook_id IS NULL"
    )
    assert orphans[0][0] == 0
    paths = await asyncio.to_thread(query_sql, url, "SELECT path FROM notebooks ORDER BY path")
    assert [p for (p,) in paths] == ["new-0.ipynb", "new-1.ipynb", "new-2.ipynb"]
    executions = await asyncio.to_thread(
        query_sql, url, "SELECT count(*) FROM cell_executions WHERE notebook_id IS NULL"
    )
    assert executions[0][0] == 0


async def test_a_commit_connection_that_died_while_idle_costs_no_request(
    engine: AsyncEngine, settings: Settings, backend: str
) -> None:
    # Each worker keeps its connection between commits; a database restart (here:
    # its backend ended) while the class is quiet must not fail the next group.
    if backend == "sqlite":
        pytest.skip("no server to end the connection of")
    committer = await started(engine, 2)
    url = settings.database_url
    try:
        assert await committer.submit([record(s, 0) for s in STUDENTS]) == ["inserted"] * 12
        ended = await asyncio.to_thread(
            query_sql,
            url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        assert ended[0][0] >= 1  # the workers' connections
        outcomes = await committer.submit([record(s, 1) for s in STUDENTS])
        assert outcomes == ["inserted"] * 12
        assert not committer.health.failing
    finally:
        await committer.stop()
    stored = await asyncio.to_thread(query_sql, url, "SELECT count(*) FROM events")
    assert stored[0][0] == 24


def _students_by_bucket(commits: int, count: int = 200) -> dict[int, list[str]]:
    """`count` students by their bucket in a committer of `commits` commits in flight."""
    by_bucket: dict[int, list[str]] = {}
    for n in range(count):
        student = f"lane-{n}@example.org"
        by_bucket.setdefault(bucket_of(student, BUCKETS_PER_COMMIT * commits), []).append(student)
    return by_bucket


def _apart_from(student: str, commits: int, count: int) -> list[str]:
    """`count` students none of whom shares `student`'s bucket."""
    buckets = BUCKETS_PER_COMMIT * commits
    others = [
        s
        for group in _students_by_bucket(commits).values()
        for s in group
        if bucket_of(s, buckets) != bucket_of(student, buckets)
    ]
    return others[:count]


async def _holding_student(url: str, student: str) -> Any:
    """A connection whose open transaction holds `student`'s row lock (a slow commit)."""
    holder = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    await holder.execute("BEGIN")
    await holder.execute("SELECT 1 FROM students WHERE student_key = $1 FOR UPDATE", student)
    return holder


async def test_once_enough_waits_groups_commit_beside_a_slow_one(
    engine: AsyncEngine, settings: Settings, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("one writer at a time on SQLite")
    slow = "lane-0@example.org"
    other = _apart_from(slow, 3, 8)
    committer = await started(engine, 3, lane_events=8)
    holder = None
    try:
        assert await committer.submit([record(slow, 0)]) == ["inserted"]
        holder = await _holding_student(settings.database_url, slow)
        # A commit that waits on a row lock (here: the held student's) ...
        held = asyncio.ensure_future(committer.submit([record(slow, 1)]))
        await asyncio.sleep(0.3)
        # ... costs the students of other buckets nothing once enough of them wait:
        # they commit beside it.
        beside = await asyncio.wait_for(committer.submit([record(s, 0) for s in other]), timeout=20)
        assert beside == ["inserted"] * 8
        assert not held.done()
        await holder.execute("ROLLBACK")
        assert await asyncio.wait_for(held, timeout=20) == ["inserted"]
    finally:
        if holder is not None:
            await holder.close()
        await committer.stop()


async def test_while_little_waits_it_waits_for_the_commit_in_flight_then_goes_at_once(
    engine: AsyncEngine, settings: Settings, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("one writer at a time on SQLite")
    slow = "lane-0@example.org"
    few = _apart_from(slow, 3, 3)  # of other buckets than the held student's
    committer = await started(engine, 3, lane_events=100)
    url = settings.database_url
    holder = None
    try:
        assert await committer.submit([record(slow, 0)]) == ["inserted"]
        holder = await _holding_student(url, slow)
        held = asyncio.ensure_future(committer.submit([record(slow, 1)]))
        await asyncio.sleep(0.2)
        waiting = [asyncio.ensure_future(committer.submit([record(s, 0)])) for s in few]
        await asyncio.sleep(0.5)
        # Three events are not worth a second commit: they wait for the one in flight.
        assert not any(w.done() for w in waiting)
        await holder.execute("ROLLBACK")
        assert await asyncio.wait_for(held, timeout=20) == ["inserted"]
        for w in waiting:
            assert await asyncio.wait_for(w, timeout=20) == ["inserted"]
    finally:
        if holder is not None:
            await holder.close()
        await committer.stop()
    # ...and then went in one transaction, their buckets together.
    rows = await asyncio.to_thread(
        query_sql,
        url,
        "SELECT count(DISTINCT xmin::text) FROM event_ids WHERE event_id IN "
        f"({', '.join(repr(f'{s}-0') for s in few)})",
    )
    assert rows[0][0] == 1


async def test_overlapping_commits_take_equal_shares_of_what_waits(
    engine: AsyncEngine, settings: Settings, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("one writer at a time on SQLite")
    # A class whose students a fixed hash would split 2:1:1 over three commits.
    by_third: dict[int, list[str]] = {}
    for group in _students_by_bucket(3, 400).values():
        for student in group:
            by_third.setdefault(bucket_of(student, 3), []).append(student)
    students = by_third[0][:40] + by_third[1][:20] + by_third[2][:20]
    committer = await started(engine, 3, lane_events=30, max_group_events=1000)
    try:
        # Queued at once while no commit runs: three commits start together.
        batch = [record(s, n) for n in range(5) for s in students]
        assert await committer.submit(batch) == ["inserted"] * 400
    finally:
        await committer.stop()
    rows = await asyncio.to_thread(
        query_sql,
        settings.database_url,
        "SELECT count(*) FROM event_ids GROUP BY xmin::text ORDER BY count(*) DESC",
    )
    sizes = [count for (count,) in rows]
    assert sum(sizes) == 400
    assert len(sizes) == 3
    # Each about a third (400 / 3), not half of the class in one of them.
    assert max(sizes) <= 180 and min(sizes) >= 90, sizes
