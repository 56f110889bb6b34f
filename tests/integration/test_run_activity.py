"""A run's own edits and active time go with its latest_runs row (SQLite and PostgreSQL).

Time on task sums them with what engagement events report (cell_activity); the
figures must equal a recomputation from the events sent, whatever the mix of
runs, renders, engagement reports, resends and late arrivals.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from typing import Any

import httpx

from cell_monitor.config import Settings
from cell_monitor.storage import migrations
from tests.integration.test_signals import NOTEBOOK, URL, activity, at, post
from tests.support import event, query_sql

STUDENTS = ["ada@x.org", "bob@x.org", "cid@x.org"]


def run(student: str, minute: float, cell: int, edits: int, ms: float, **fields: Any) -> Any:
    return event(
        emailAddress=student,
        eventTime=at(minute),
        cellIndex=cell,
        cellId=f"cell-{cell}",
        edits=edits,
        activeMs=ms,
        **fields,
    )


def mixed_class(rng: random.Random) -> list[dict[str, Any]]:
    """Runs carrying activity, renders carrying it, engagement reports on several cells."""
    events = []
    for _ in range(120):
        student, minute, cell = rng.choice(STUDENTS), rng.uniform(0, 50), rng.randrange(5)
        kind = rng.random()
        if kind < 0.5:
            events.append(run(student, minute, cell, rng.randrange(6), rng.randrange(0, 9000)))
        elif kind < 0.6:
            # A rendered markdown cell is no run: its activity is an engagement report's.
            events.append(run(student, minute, cell, 2, 700.0, cellType="markdown"))
        else:
            cells = [(c, rng.randrange(4), float(rng.randrange(0, 5000))) for c in (cell, cell + 1)]
            events.append(activity(student, minute, *cells))
    return events


def expected(events: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[float, int]]:
    """(student, cell) → (active seconds, edits), from the events themselves."""
    sums: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0])
    seen = set()
    for e in events:
        if e["eventId"] in seen:
            continue  # a resend is stored once
        seen.add(e["eventId"])
        if e["eventType"] == "engagement":
            parts = [(c["cellIndex"], c["edits"], c["activeMs"]) for c in e["cells"]]
        else:
            parts = [(e["cellIndex"], e["edits"], e["activeMs"])]
        for cell, edits, ms in parts:
            sums[(e["emailAddress"], cell)][0] += ms / 1000
            sums[(e["emailAddress"], cell)][1] += edits
    return {k: (round(v[0], 3), int(v[1])) for k, v in sums.items() if v != [0.0, 0]}


async def shown(client: httpx.AsyncClient) -> dict[tuple[str, int], tuple[float, int]]:
    out = (await client.get("/api/v1/time-on-task", params={"notebook": NOTEBOOK})).json()
    return {
        (s["student"], c["cellIndex"]): (round(c["activeSeconds"], 3), c["edits"])
        for s in out["students"]
        for c in s["cells"]
        if c["activeSeconds"] or c["edits"]
    }


async def test_time_on_task_equals_a_recomputation_from_the_events(
    client: httpx.AsyncClient,
) -> None:
    events = mixed_class(random.Random(16))
    # Late arrivals and resends: the second half first, then everything again.
    for batch in (events[60:], events[:60], events[::3]):
        for start in range(0, len(batch), 25):
            await post(client, batch[start : start + 25])
    assert await shown(client) == expected(events)


async def test_a_run_writes_its_activity_to_its_latest_run_only(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await post(client, [run("ada@x.org", 1, 3, 4, 2500.0), run("ada@x.org", 2, 3, 1, 500.0)])
    rows = await asyncio.to_thread(
        query_sql, database_url, "SELECT cell_index, runs, edits, active_ms FROM latest_runs"
    )
    assert [tuple(r) for r in rows] == [(3, 2, 5, 3000.0)]
    none = await asyncio.to_thread(query_sql, database_url, "SELECT count(*) FROM cell_activity")
    assert none[0][0] == 0
    assert await shown(client) == {("ada@x.org", 3): (3.0, 5)}


async def test_the_downgrade_moves_run_activity_back_and_figures_stay(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    events = [
        run("ada@x.org", 1, 3, 4, 2500.0),
        activity("ada@x.org", 2, (3, 2, 1000.0), (4, 1, 300.0)),
        run("bob@x.org", 1, 2, 1, 100.0),
    ]
    await post(client, events)
    before = await shown(client)
    assert before == expected(events)
    await asyncio.to_thread(migrations.downgrade, settings, None, "0013")
    folded = await asyncio.to_thread(
        query_sql,
        database_url,
        "SELECT s.student_key, cell_index, edits, active_ms FROM cell_activity a "
        "JOIN students s ON s.id = a.student_id ORDER BY 1, 2",
    )
    assert [tuple(r) for r in folded] == [
        ("ada@x.org", 3, 6, 3500.0),
        ("ada@x.org", 4, 1, 300.0),
        ("bob@x.org", 2, 1, 100.0),
    ]
    await asyncio.to_thread(migrations.upgrade, settings)
    assert await shown(client) == before
    # New runs after the upgrade add to the same figures.
    more = run("ada@x.org", 5, 3, 1, 500.0)
    await post(client, [more])
    assert await shown(client) == expected([*events, more])
    assert (await client.post(URL, json=[more])).status_code == 202  # a resend
    assert await shown(client) == expected([*events, more])
