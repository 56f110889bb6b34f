"""The student's disk fills up: clear refusals, no resend loop, a status that names it.

The disk queue lives on a real size-limited tmpfs that the test fills.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from tests.disk_support import fill, small_filesystem
from tests.integration.jupyter_ext.fake_class_server import Recorder, fake_class_server
from tests.support import event, eventually


@pytest.fixture
def queue_disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "student-disk", "4m") as disk:
        yield disk


@pytest.fixture
def monitor_config(queue_disk: Path) -> dict[str, Any]:
    # No class server configured yet: events stay queued until a test sets one.
    return {"queue_path": str(queue_disk / "queue.sqlite3"), "server_url": ""}


def big_events(count: int) -> list[dict[str, Any]]:
    # Large enough that storing or deleting them needs new pages on disk.
    return [event(code="x" * 20_000) for _ in range(count)]


async def post(jp_fetch: Any, events: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    try:
        response = await jp_fetch("cell-monitor", "events", method="POST", body=json.dumps(events))
    except HTTPClientError as exc:
        assert exc.response is not None
        response = exc.response
    return response.code, json.loads(response.body)


async def status(jp_fetch: Any) -> dict[str, Any]:
    return dict(json.loads((await jp_fetch("cell-monitor", "status")).body))


async def test_a_full_disk_refuses_the_browser_clearly_and_recovers(
    queue_disk: Path, jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    assert (await post(jp_fetch, [event()]))[0] == 202
    filler = fill(queue_disk)

    code, body = await post(jp_fetch, big_events(10))
    assert code == 507, body  # not "500 Unhandled error"
    assert "disk" in body["detail"] and "full" in body["detail"]
    state = await status(jp_fetch)
    assert "full" in state["queueError"] and state["lastError"] == state["queueError"]
    assert state["queueLength"] == 1  # the refused batch stayed with the browser

    filler.unlink()
    code, body = await post(jp_fetch, big_events(10))
    assert code == 202 and body["queued"] == 10
    state = await status(jp_fetch)
    assert state["queueError"] is None and state["queueLength"] == 11


async def test_a_delete_failing_after_the_ack_does_not_resend_the_batch(
    queue_disk: Path, jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    events = big_events(20)
    assert (await post(jp_fetch, events))[0] == 202
    recorder = Recorder()
    async with fake_class_server(recorder) as url:
        filler = fill(queue_disk)
        extension.server_url = url
        extension.forwarder.wake()
        failing = await eventually(
            lambda: _when(status(jp_fetch), lambda s: s["queueError"] is not None)
        )
        assert "cannot be cleared" in failing["queueError"] and "full" in failing["queueError"]
        assert failing["queueLength"] == 0 and failing["delivered"] == 20
        assert await extension.queue.length() == 20  # still on disk: the delete failed

        # However often the forwarder runs, the acknowledged batch is not sent again.
        for _ in range(3):
            assert await extension.forwarder.forward_once() == "idle"
        assert len(recorder.requests) == 1
        assert sorted(e["eventId"] for e in recorder.events) == sorted(e["eventId"] for e in events)

        filler.unlink()
        assert await extension.forwarder.forward_once() == "idle"  # clears them now
        assert await extension.queue.length() == 0
        assert len(recorder.requests) == 1
        assert (await status(jp_fetch))["queueError"] is None


async def _when(value: Awaitable[Any], predicate: Callable[[Any], bool]) -> Any:
    result = await value
    return result if predicate(result) else None
