"""The server extension's parts that need no server: disk queue, identity, environment."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cell_monitor.jupyter_ext import disk_queue
from cell_monitor.jupyter_ext.disk_queue import DiskQueue, QueueFull
from cell_monitor.jupyter_ext.forwarder import Target
from cell_monitor.jupyter_ext.identity import stamp_identity
from tests.support import event


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[DiskQueue]:
    q = DiskQueue(tmp_path / "nested" / "queue.sqlite3", max_events=5)
    q.open()
    yield q
    q.close()


async def test_queue_is_fifo_and_unique_by_event_id(queue: DiskQueue) -> None:
    a, b, c = event(), event(), event()
    assert (await queue.put([a, b])).stored == 2
    result = await queue.put([b, c])
    assert (result.stored, result.duplicates, result.length) == (1, 1, 3)
    items = await queue.peek(10)
    assert [i.body["eventId"] for i in items] == [a["eventId"], b["eventId"], c["eventId"]]
    await queue.delete([items[0].seq])
    assert [i.body for i in await queue.peek(1)] == [b]


async def test_queue_refuses_a_batch_over_the_bound_and_stores_none_of_it(
    queue: DiskQueue,
) -> None:
    await queue.put([event() for _ in range(4)])
    with pytest.raises(QueueFull):
        await queue.put([event(), event()])
    assert await queue.length() == 4
    await queue.put([event()])
    assert await queue.length() == 5


async def test_queue_contents_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    first = DiskQueue(path, max_events=10)
    first.open()
    await first.put([event(eventId="kept")])
    await first.set_meta("client_target", "{}")
    first.close()
    second = DiskQueue(path, max_events=10)
    second.open()
    assert [i.body["eventId"] for i in await second.peek(10)] == ["kept"]
    assert await second.get_meta("client_target") == "{}"
    second.close()


async def test_each_announcement_is_claimed_once_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    first = DiskQueue(path, max_events=10)
    first.open()
    assert await first.claim_announcements(["m1", "m2", "m1"]) == ["m1", "m2"]
    assert await first.claim_announcements(["m2", "m3"]) == ["m3"]
    first.close()
    second = DiskQueue(path, max_events=10)
    second.open()
    assert await second.claim_announcements(["m1", "m2", "m3", "m4"]) == ["m4"]
    second.close()


async def test_announcements_keep_only_the_newest_ids(
    queue: DiskQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(disk_queue, "MAX_ANNOUNCED", 3)
    await queue.claim_announcements(["m1", "m2", "m3", "m4"])
    # The oldest is forgotten; the newest stay claimed.
    assert await queue.claim_announcements(["m1", "m2", "m4"]) == ["m1"]


def test_queue_survives_a_killed_process(tmp_path: Path) -> None:
    """A batch acknowledged to the browser is on disk even if Jupyter dies at once."""
    path = tmp_path / "queue.sqlite3"
    script = f"""
import asyncio, os
from collections.abc import Iterator
from pathlib import Path
from cell_monitor.jupyter_ext.disk_queue import DiskQueue
q = DiskQueue(Path({str(path)!r}), max_events=10)
q.open()
asyncio.run(q.put([{{"eventId": "e1", "eventType": "help"}}]))
os._exit(9)  # no close, no cleanup
"""
    subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    reopened = DiskQueue(path, max_events=10)
    reopened.open()
    assert reopened._length() == 1
    reopened.close()


def test_hub_user_overrides_browser_identity() -> None:
    stamped = stamp_identity(
        {"eventId": "1", "emailAddress": "mallory@example.org", "userId": "mallory"},
        hub_user="ada",
        fallback_user="root",
    )
    assert stamped == {"eventId": "1", "userId": "ada"}


def test_settings_identity_is_kept_off_hub_and_fallback_fills_gaps() -> None:
    with_email = {"emailAddress": "ada@example.org"}
    assert stamp_identity(with_email, hub_user=None, fallback_user="ada") == with_email
    assert stamp_identity({"emailAddress": " "}, hub_user=None, fallback_user="ada") == {
        "emailAddress": " ",
        "userId": "ada",
    }


def test_target_posts_to_the_ingest_route() -> None:
    assert Target("http://host:8000/").events_url == "http://host:8000/api/v1/events"


def test_the_package_imports_nothing_of_the_class_server() -> None:
    """The student-side install has no FastAPI/SQLAlchemy: the extension must not need them."""
    script = """
import sys
import cell_monitor
points = cell_monitor._jupyter_server_extension_points()
import cell_monitor.jupyter_ext.app
server_side = {"fastapi", "sqlalchemy", "uvicorn", "pydantic_settings", "httpx"}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in server_side)
print("HEAVY", heavy)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
