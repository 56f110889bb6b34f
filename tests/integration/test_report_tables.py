"""The report tables the writer keeps equal a recomputation from the event log.

A mixed workload goes through a real server (concurrent posts, late events,
resent duplicates, errors, a message longer than an index key may be, runs
without a cell index, other event types), then one student is erased. The
maintained tables (storage/report_tables.py) are read back with plain SQL and
compared with the same figures computed here, in Python, from the rows of
events / cell_executions. Then the tables are rebuilt by the backfills of
revisions 0008 and 0013 (down to 0007, then up) and compared again.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from cell_monitor.privacy.erasure import erase_from_database
from cell_monitor.reports.progress import error_hotspots
from cell_monitor.storage import migrations
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.report_tables import group_key
from cell_monitor.storage.retention import prune
from tests.support import event, live_server, query_sql, sign_in

URL = "/api/v1/events"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
STUDENTS = [f"s{i}@example.org" for i in range(5)]
ERRORS = [
    ("NameError", "name 'df' is not defined"),
    ("KeyError", "'price'"),
    ("ValueError", "x" * 4000),  # longer than a btree key may be
    ("NameError", None),
]


def workload(rng: random.Random) -> list[dict[str, Any]]:
    events = []
    for n in range(600):
        student = rng.choice(STUDENTS)
        when = NOW - timedelta(seconds=rng.randrange(0, 3 * 3600))
        if n % 50 == 0:
            when = NOW - timedelta(seconds=7)  # several runs at the very same time
        fields: dict[str, Any] = {
            "emailAddress": student,
            "userName": student.split("@")[0],
            "eventTime": when.isoformat(),
            "notebookPath": rng.choice(["a.ipynb", "b.ipynb"]),
            "cellIndex": rng.choice([0, 1, 2, 3, None]),
        }
        kind = rng.random()
        if kind < 0.1:
            fields["eventType"] = rng.choice(["notebook_saved", "notebook_opened", "help"])
        elif kind < 0.45:
            name, message = rng.choice(ERRORS)
            fields.update(hasError=True, errorName=name, errorMessage=message, result=None)
        events.append(event(**fields))
    return events


def ts(value: Any) -> datetime:
    """A stored time as aware UTC (SQLite gives text, PostgreSQL datetimes)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def minute(value: Any) -> int:
    return int(ts(value).timestamp() // 60)


def maintained(url: str) -> dict[str, Any]:
    latest = {
        (s, n, c): (ts(at), pk, bool(failed), name, message, runs, ts(first))
        for s, n, c, at, pk, failed, name, message, runs, first in query_sql(
            url,
            "SELECT student_id, notebook_id, cell_index, last_at, last_event_pk, failed, "
            "error_name, error_message, runs, first_at FROM latest_runs",
        )
    }
    types: dict[str, int] = defaultdict(int)
    for kind, count in query_sql(url, "SELECT event_type, events FROM event_type_counts"):
        types[kind] += count
    minutes: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for m, nb, n, e in query_sql(
        url, "SELECT minute, notebook_id, executions, errors FROM execution_minutes"
    ):
        minutes[(m, nb)][0] += n
        minutes[(m, nb)][1] += e
    groups = {}
    for gid, key, nb, cell, name, message in query_sql(
        url,
        "SELECT id, group_key, notebook_id, cell_index, error_name, error_message "
        "FROM error_groups",
    ):
        assert key == group_key(nb, cell, name, message)
        groups[gid] = (nb, cell, name, message)
    group_counts: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for gid, students, occurrences in query_sql(
        url, "SELECT group_id, students, occurrences FROM error_group_counts"
    ):
        group_counts[groups[gid]][0] += students
        group_counts[groups[gid]][1] += occurrences
    error_minutes: dict[tuple[Any, ...], int] = defaultdict(int)
    for m, gid, n in query_sql(url, "SELECT minute, group_id, occurrences FROM error_minutes"):
        error_minutes[(m, *groups[gid])] += n
    who = {
        (*groups[gid], s): (n, ts(at))
        for gid, s, n, at in query_sql(
            url, "SELECT group_id, student_id, occurrences, last_at FROM error_students"
        )
    }
    notebook_students = {
        (s, n): ts(at)
        for s, n, at in query_sql(
            url, "SELECT student_id, notebook_id, last_at FROM notebook_students"
        )
    }
    return {
        "latest_runs": latest,
        "notebook_students": notebook_students,
        "event_types": {k: v for k, v in types.items() if v},
        "minutes": {k: tuple(v) for k, v in minutes.items() if v != [0, 0]},
        "error_groups": {k: tuple(v) for k, v in group_counts.items() if v != [0, 0]},
        "error_students": who,
        "error_minutes": {k: v for k, v in error_minutes.items() if v},
        "groups_without_students": len(set(groups.values()) - {k[:4] for k in who}),
    }


def recomputed(url: str) -> dict[str, Any]:
    rows = query_sql(
        url,
        "SELECT student_id, notebook_id, cell_index, event_time, event_pk, has_error, "
        "error_name, error_message FROM cell_executions",
    )
    latest: dict[tuple[int, int, int], Any] = {}
    runs: dict[tuple[int, int, int], list[Any]] = {}
    minutes: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    errors: dict[tuple[Any, ...], list[Any]] = {}
    error_minutes: dict[tuple[Any, ...], int] = defaultdict(int)
    for student, nb, cell, at, pk, failed, name, message in rows:
        failed = bool(failed)
        minutes[(minute(at), nb or 0)][0] += 1
        minutes[(minute(at), nb or 0)][1] += failed
        if failed:
            entry = errors.setdefault((nb, cell, name, message, student), [0, ts(at)])
            entry[0] += 1
            entry[1] = max(entry[1], ts(at))
            error_minutes[(minute(at), nb, cell, name, message)] += 1
        if nb is None or cell is None:
            continue
        key = (student, nb, cell)
        if key not in latest or (ts(at), pk) > latest[key][:2]:
            latest[key] = (
                ts(at),
                pk,
                failed,
                name if failed else None,
                message if failed else None,
            )
        count = runs.setdefault(key, [0, ts(at)])
        count[0] += 1
        count[1] = min(count[1], ts(at))
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for (*group, _), (n, _) in errors.items():
        groups[tuple(group)][0] += 1
        groups[tuple(group)][1] += n
    notebook_students: dict[tuple[int, int], datetime] = {}
    for (student, nb, _), (at, *_) in latest.items():
        notebook_students[(student, nb)] = max(at, notebook_students.get((student, nb), at))
    return {
        "latest_runs": {k: (*v, runs[k][0], runs[k][1]) for k, v in latest.items()},
        "notebook_students": notebook_students,
        "event_types": dict(query_sql(url, "SELECT event_type, count(*) FROM events GROUP BY 1")),
        "minutes": {k: tuple(v) for k, v in minutes.items()},
        "error_groups": {k: tuple(v) for k, v in groups.items()},
        "error_students": {k: tuple(v) for k, v in errors.items()},
        "error_minutes": dict(error_minutes),
        "groups_without_students": 0,
    }


def window_hotspots(url: str, since: datetime) -> dict[tuple[Any, ...], Any]:
    """Hotspots from the minute of `since` on, recomputed from cell_executions."""
    start = datetime.fromtimestamp(minute(since) * 60, timezone.utc)
    paths = dict(query_sql(url, "SELECT id, path FROM notebooks"))
    keys = dict(query_sql(url, "SELECT id, student_key FROM students"))
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for student, nb, cell, at, name, message in query_sql(
        url,
        "SELECT student_id, notebook_id, cell_index, event_time, error_name, error_message "
        "FROM cell_executions WHERE has_error",
    ):
        if ts(at) < start:
            continue
        group = groups.setdefault((paths.get(nb), cell, name, message), {"n": 0, "who": {}})
        group["n"] += 1
        group["who"][keys[student]] = max(group["who"].get(keys[student], ts(at)), ts(at))
    return {k: (len(g["who"]), g["n"], g["who"]) for k, g in groups.items()}


async def assert_window_hotspots(settings: Settings, url: str, since: datetime) -> None:
    engine = create_engine(settings)
    try:
        got = await error_hotspots(engine, None, since, limit=1000, per_group=1000)
    finally:
        await engine.dispose()
    expected = await asyncio.to_thread(window_hotspots, url, since)
    assert {
        (h.notebook, h.cell_index, h.error_name, h.error_message): (
            h.students,
            h.occurrences,
            {w.student: w.last_at for w in h.who},
        )
        for h in got.items
    } == expected
    ranks = [(-h.students, -h.occurrences) for h in got.items]
    assert ranks == sorted(ranks) and len(expected) >= 4


def assert_consistent(url: str) -> dict[str, Any]:
    kept, fresh = maintained(url), recomputed(url)
    for table in fresh:
        assert kept[table] == fresh[table], table
    return kept


async def post_all(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    chunks = [events[i : i + 37] for i in range(0, len(events), 37)]
    # Concurrent posts: several group commits in flight, on several connections.
    for start in range(0, len(chunks), 4):
        answers = await asyncio.gather(
            *(client.post(URL, json=c) for c in chunks[start : start + 4])
        )
        for answer in answers:
            assert answer.status_code == 202, answer.text


async def test_report_tables_equal_a_recomputation_from_the_log(
    settings: Settings, database_url: str
) -> None:
    rng = random.Random(18)
    events = workload(rng)
    newest_first = sorted(events, key=lambda e: e["eventTime"], reverse=True)
    async with live_server(settings) as url:
        headers = await sign_in(url)
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            # Newest first: most runs arrive after a newer run of their cell.
            await post_all(client, newest_first[:400])
            await post_all(client, rng.sample(newest_first[:400], 120))  # duplicates
            await post_all(client, newest_first[400:])
            stats = (await client.get("/api/v1/stats")).json()
    stored = len({e["eventId"] for e in events})
    assert sum(stats["eventsByType"].values()) == stats["events"] == stored
    before = await asyncio.to_thread(assert_consistent, database_url)
    assert any(v[2] for v in before["latest_runs"].values())  # some cells end failed
    assert len(before["error_groups"]) >= 8
    # Hotspots over a window, from error_minutes and error_students.last_at.
    for hours in (1, 2):
        await assert_window_hotspots(settings, database_url, NOW - timedelta(hours=hours))
    engine = create_engine(settings)
    try:  # a window in which no one erred
        assert (await error_hotspots(engine, None, NOW + timedelta(minutes=2), 50)).items == []
    finally:
        await engine.dispose()

    engine = create_engine(settings)
    try:
        found, counts = await erase_from_database(engine, [STUDENTS[0]])
    finally:
        await engine.dispose()
    assert found == [STUDENTS[0]] and counts["latest_runs"] > 0
    assert counts["notebook_students"] > 0
    after = await asyncio.to_thread(assert_consistent, database_url)
    erased = (await asyncio.to_thread(query_sql, database_url, "SELECT count(*) FROM students"))[0][
        0
    ]
    assert erased == len(STUDENTS) - 1
    assert len(after["latest_runs"]) < len(before["latest_runs"])
    assert sum(after["event_types"].values()) < sum(before["event_types"].values())

    # The migrations' backfills (0008, 0013) build the same tables from the log.
    await asyncio.to_thread(migrations.downgrade, settings, None, "0007")
    await asyncio.to_thread(migrations.upgrade, settings)
    assert await asyncio.to_thread(assert_consistent, database_url) == after


@pytest.mark.parametrize("hours", [1, 6])
async def test_activity_and_notebook_list_count_the_window_from_the_minutes(
    client: httpx.AsyncClient, hours: int
) -> None:
    now = datetime.now(timezone.utc)  # not NOW: the window is counted from the request's time
    inside = now - timedelta(minutes=hours * 60 - 5)
    outside = now - timedelta(hours=hours, minutes=5)
    body = [
        event(eventTime=inside.isoformat(), hasError=True, errorName="E", errorMessage="m"),
        event(eventTime=inside.isoformat(), emailAddress="bob@example.org"),
        event(eventTime=outside.isoformat(), emailAddress="cy@example.org"),
    ]
    assert (await client.post(URL, json=body)).status_code == 202
    activity = (await client.get(f"/api/v1/activity?hours={hours}&source=database")).json()
    assert sum(m["executions"] for m in activity["minutes"]) == 2
    assert sum(m["errors"] for m in activity["minutes"]) == 1
    listed = (await client.get(f"/api/v1/notebooks?hours={hours}")).json()["items"]
    assert [(n["path"], n["students"], n["executions"], n["errors"]) for n in listed] == [
        ("lesson1.ipynb", 2, 2, 1)
    ]


async def test_prune_removes_report_rows_of_pruned_history(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    old = (NOW - timedelta(days=10)).isoformat()
    new = (NOW - timedelta(hours=1)).isoformat()
    failing = {"hasError": True, "errorName": "NameError", "errorMessage": "name 'x'"}
    body = [
        event(eventTime=old, cellIndex=0, **failing),  # cell 0: only old runs
        event(eventTime=old, cellIndex=1),
        event(eventTime=new, cellIndex=1),  # cell 1: a kept run
        event(eventTime=old, cellIndex=2, emailAddress="bob@example.org", **failing),
        event(eventTime=new, cellIndex=2, emailAddress="cy@example.org", **failing),
    ]
    assert (await client.post(URL, json=body)).status_code == 202
    engine = create_engine(settings)
    try:
        report = await prune(engine, settings, timedelta(days=5))
    finally:
        await engine.dispose()
    assert report.events == 3 and report.report_rows["latest_runs"] == 2
    assert report.report_rows["notebook_students"] == 1  # bob's runs were all old
    kept = await asyncio.to_thread(maintained, database_url)
    # What is left describes only kept history, except `runs` (every run stored).
    assert sorted((k[2], v[5]) for k, v in kept["latest_runs"].items()) == [(1, 2), (2, 1)]
    assert all(ts(v[0]) > NOW - timedelta(days=5) for v in kept["latest_runs"].values())
    assert len(kept["notebook_students"]) == 2
    assert all(ts(at) > NOW - timedelta(days=5) for at in kept["notebook_students"].values())
    assert sum(n for n, _ in kept["minutes"].values()) == 2
    groups = {k[1:3]: v for k, v in kept["error_groups"].items()}
    assert groups == {(2, "NameError"): (1, 1)}  # cell 0's group went with its only student
    assert sum(kept["error_minutes"].values()) == 1  # the old errors' minutes went
    assert kept["groups_without_students"] == 0
    # Like the students' counters, the counts per type keep what was pruned.
    assert kept["event_types"] == {"cell_executed": 5}
