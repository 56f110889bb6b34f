"""The group committer on a real database: data errors split, outages fail (SQLite, PostgreSQL).

Validation keeps every known bad value out of the store; these tests hand the
committer records that skipped it, so that what the database itself refuses is
classified right: a refusal of one event's values rejects that event only, and
only a database that cannot work answers "unavailable".
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.domain.records import NewEvent
from cell_monitor.ingest.committer import Failed, GroupCommitter, StorageUnavailable
from cell_monitor.storage.engine import create_engine
from tests.support import make_settings, query_sql


def record(student: str, n: int, **fields: object) -> NewEvent:
    now = datetime.now(timezone.utc)
    base = NewEvent(
        event_id=f"{student}-{n}",
        event_type="cell_executed",
        event_time=now,
        received_at=now,
        student_key=student,
        email_address=student,
        notebook_path="lesson.ipynb",
        cell_index=0,
        execution_count=1,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def four_byte_text(chars: int) -> str:
    rnd = random.Random(2)
    return "".join(chr(rnd.randrange(0x20000, 0x2A6DF)) for _ in range(chars))


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def committer(engine: AsyncEngine) -> AsyncIterator[GroupCommitter]:
    committer = GroupCommitter(engine, max_group_events=1000, max_queued_events=10_000)
    committer.start()
    yield committer
    await committer.stop()


# Values the store refuses (on one backend or both), each in the driver's own words.
VICTIMS = {
    "int-over-64-bits": {"execution_count": 2**63},  # SQLite OverflowError, asyncpg DataError
    "int-over-32-bits": {"cell_index": 2**31},  # PostgreSQL INTEGER
    "unindexable-path": {"notebook_path": four_byte_text(1024)},  # PostgreSQL btree limit (54000)
    "text-not-unicode": {"code": "\ud800"},  # not encodable as UTF-8
    "nul-in-key": {"event_id": "nul\x00key"},  # PostgreSQL text holds no NUL (22021)
    "naive-time": {"event_time": datetime(2026, 1, 1)},
}


@pytest.mark.parametrize("name", list(VICTIMS))
async def test_a_value_the_database_refuses_fails_only_its_event(
    name: str, committer: GroupCommitter, settings: Settings
) -> None:
    victim = record("victim@example.org", 0, **VICTIMS[name])
    mine = [record("victim@example.org", 1), victim, record("victim@example.org", 2)]
    others = [[record(f"s{n}@example.org", k) for k in range(3)] for n in range(5)]
    # Submitted together, they share one group: the victim's refusal splits it.
    results = await asyncio.gather(
        committer.submit(mine), *(committer.submit(batch) for batch in others)
    )
    mine_outcomes = results[0]
    assert mine_outcomes[0] == "inserted" and mine_outcomes[2] == "inserted"
    if isinstance(mine_outcomes[1], Failed):
        assert mine_outcomes[1].reason.startswith("the database refused this event")
    else:
        assert mine_outcomes[1] == "inserted"  # this backend can hold the value
    assert all(outcome == "inserted" for batch in results[1:] for outcome in batch)
    stored = await asyncio.to_thread(
        query_sql, settings.database_url, "SELECT count(*) FROM events"
    )
    assert stored[0][0] == 17 + (mine_outcomes[1] == "inserted")
    # The victim's student is not poisoned: their next events commit.
    again = await committer.submit([record("victim@example.org", 3)])
    assert again == ["inserted"]


async def test_a_database_that_is_away_is_unavailable(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'no-such-dir' / 'x' / 'db.sqlite3'}"
    else:
        url = "postgresql://postgres@127.0.0.1:1/none"  # nothing listens on port 1
    settings = make_settings(url, tmp_path, db_timeout_seconds=2)
    engine = create_engine(settings)
    committer = GroupCommitter(engine, max_group_events=100, max_queued_events=100)
    committer.start()
    try:
        with pytest.raises(StorageUnavailable):
            await committer.submit([record("ada@example.org", 0), record("bo@example.org", 0)])
    finally:
        await committer.stop()
        await engine.dispose()
