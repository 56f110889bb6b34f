"""Delivery to the class server: forwarding, acknowledgement rules, outages, restarts."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.backoff import Backoff
from cell_monitor.jupyter_ext.disk_queue import DiskQueue
from cell_monitor.jupyter_ext.forwarder import Forwarder, Target
from tests.integration.jupyter_ext.fake_class_server import Answer, Recorder, fake_class_server
from tests.support import event, eventually, sign_in


async def stored_ids(base_url: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, headers=await sign_in(base_url)) as client:
        page = (await client.get("/api/v1/events", params={"limit": 1000})).json()
    return [item["eventId"] for item in page["items"]]


async def post(jp_fetch: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = await jp_fetch("cell-monitor", "events", method="POST", body=json.dumps(events))
    assert response.code == 202
    return dict(json.loads(response.body))


async def status(jp_fetch: Any) -> dict[str, Any]:
    return dict(json.loads((await jp_fetch("cell-monitor", "status")).body))


@pytest.fixture
def monitor_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """server_url of the class server a test asks for through its `target` fixture."""
    return dict(getattr(request, "param", {}))


# -- a real class server ------------------------------------------------------


async def test_events_reach_a_real_class_server_exactly_once(
    class_server: str, jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    extension.server_url = class_server
    events = [event(emailAddress=None, userId=None), event(), event()]
    await post(jp_fetch, events)
    await post(jp_fetch, events[:1])  # resent by the browser: still stored once

    wanted = {e["eventId"] for e in events}
    ids = await eventually(lambda: _when(stored_ids(class_server), lambda i: wanted <= set(i)))
    assert sorted(ids) == sorted(wanted)
    assert await extension.queue.length() == 0
    state = await status(jp_fetch)
    assert state["delivered"] >= 3 and state["unreachableSeconds"] is None

    headers = await sign_in(class_server)
    async with httpx.AsyncClient(base_url=class_server, headers=headers) as client:
        page = (await client.get("/api/v1/events", params={"student": "os-user"})).json()
    # An event without identity gets the server-side user, not a rejection.
    assert [item["eventId"] for item in page["items"]] == [events[0]["eventId"]]


async def test_retry_until_the_class_server_comes_back(
    class_server_factory: Callable[..., Any],
    unused_port: int,
    jp_serverapp: Any,
    jp_fetch: Any,
    extension: Any,
) -> None:
    extension.server_url = f"http://127.0.0.1:{unused_port}"
    events = [event() for _ in range(5)]
    await post(jp_fetch, events)

    down = await eventually(
        lambda: _when(status(jp_fetch), lambda s: s["unreachableSeconds"] is not None)
    )
    assert down["queueLength"] == 5 and "unreachable" in down["lastError"]
    failed = extension.forwarder.failures
    await eventually(lambda: extension.forwarder.failures >= failed + 3, what="more failed tries")
    assert await extension.queue.length() == 5

    async with class_server_factory(unused_port) as base_url:
        ids = await eventually(lambda: _when(stored_ids(base_url), lambda i: len(i) == 5))
        assert sorted(ids) == sorted(e["eventId"] for e in events)
        up = await eventually(lambda: _when(status(jp_fetch), lambda s: s["queueLength"] == 0))
        assert up["unreachableSeconds"] is None and up["lastError"] is None


async def test_the_queue_survives_a_restart_of_the_server_extension(
    class_server: str, unused_port: int, jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    extension.server_url = f"http://127.0.0.1:{unused_port}"  # class server down
    events = [event() for _ in range(3)]
    await post(jp_fetch, events)
    queue_path = Path(extension.queue_path)
    await extension.stop_extension()  # Jupyter stops (or crashes after the 202)

    restarted = DiskQueue(queue_path, max_events=1000)
    restarted.open()
    try:
        assert await restarted.length() == 3

        async def target() -> Target:
            return Target(class_server)

        forwarder = Forwarder(restarted, target, retry=Backoff(0.05, 0.2))
        assert await forwarder.forward_once() == "sent"
        assert await restarted.length() == 0
    finally:
        restarted.close()
    assert sorted(await stored_ids(class_server)) == sorted(e["eventId"] for e in events)


async def test_events_left_from_a_previous_run_are_sent_at_start(
    class_server: str, tmp_path: Path, jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    leftover = DiskQueue(Path(extension.queue_path), max_events=1000)
    leftover.open()
    await leftover.put([event(eventId="left-from-yesterday")])
    leftover.close()
    extension.server_url = class_server
    await status(jp_fetch)  # the browser's first request; a real server starts delivery itself
    await eventually(lambda: _when(stored_ids(class_server), lambda i: "left-from-yesterday" in i))


# -- a scripted class server: what counts as acknowledged ----------------------


@pytest.fixture
async def scripted(tmp_path: Path) -> Any:
    recorder = Recorder()
    queue = DiskQueue(tmp_path / "q.sqlite3", max_events=1000)
    queue.open()
    async with fake_class_server(recorder) as url:

        async def target() -> Target:
            return Target(url, "secret-token")

        forwarder = Forwarder(queue, target, batch_size=4, retry=Backoff(0.05, 0.2))
        yield recorder, queue, forwarder
    queue.close()


async def test_the_ingest_token_is_sent_as_a_bearer_header(scripted: Any) -> None:
    recorder, queue, forwarder = scripted
    await queue.put([event()])
    assert await forwarder.forward_once() == "sent"
    headers = recorder.requests[0]["headers"]
    assert headers["Authorization"] == "Bearer secret-token"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (Answer(503, {"detail": "storage unavailable"}, {"Retry-After": "0"}), "server_error"),
        (Answer(500, {"detail": "bug"}), "server_error"),
        (Answer(429, {"detail": "slow down"}, {"Retry-After": "0"}), "server_error"),
        (Answer(401, {"detail": "bad token"}), "refused"),
        (Answer(403, {"detail": "revoked"}), "refused"),
        (Answer(404, {"detail": "not found"}), "wrong_url"),
        (Answer(301, {}, {"Location": "https://class.example.org/api/v1/events"}), "wrong_url"),
        (Answer(200, {"items": []}), "wrong_url"),
        (Answer(202, {"queued": 2}), "wrong_url"),
        (Answer(422, {"detail": "a proxy's idea of invalid"}), "wrong_url"),
    ],
    ids=[
        "503",
        "500",
        "429",
        "401",
        "403",
        "404",
        "redirect",
        "200-is-not-an-ack",
        "foreign-202",
        "foreign-422",
    ],
)
async def test_failures_keep_the_batch_and_retry(scripted: Any, answer: Answer, state: str) -> None:
    recorder, queue, forwarder = scripted
    await queue.put([event(), event()])
    recorder.answers = [answer]
    delay = await forwarder.forward_once()
    assert isinstance(delay, float) and delay >= 0
    assert await queue.length() == 2
    assert forwarder.state.value == state
    assert forwarder.unreachable_seconds() is not None
    assert str(answer.status) in (forwarder.last_error or "")
    assert await forwarder.forward_once() == "sent"  # next answer: 202
    assert await queue.length() == 0
    assert recorder.requests[0]["events"] == recorder.requests[1]["events"]
    assert forwarder.unreachable_seconds() is None
    assert forwarder.state.value == "ok"


async def test_rejected_and_duplicate_events_count_as_acknowledged(scripted: Any) -> None:
    recorder, queue, forwarder = scripted
    await queue.put([event(), event(), event()])
    recorder.answers = [
        Answer(202, {"accepted": 1, "duplicates": 1, "rejected": [{"index": 2, "errors": ["x"]}]})
    ]
    assert await forwarder.forward_once() == "sent"
    assert await queue.length() == 0


async def test_a_batch_with_nothing_usable_is_dropped(scripted: Any) -> None:
    recorder, queue, forwarder = scripted
    await queue.put([event()])
    recorder.answers = [Answer(422, {"accepted": 0, "duplicates": 0, "rejected": []})]
    assert await forwarder.forward_once() == "sent"
    assert await queue.length() == 0


async def test_a_batch_over_the_size_limit_is_resent_in_halves(scripted: Any) -> None:
    recorder, queue, forwarder = scripted
    events = [event() for _ in range(4)]
    await queue.put(events)
    recorder.answers = [Answer(413, {"detail": "too large"})]
    for _ in range(3):
        await forwarder.forward_once()
    assert [len(r["events"]) for r in recorder.requests] == [4, 2, 2]
    assert [e["eventId"] for e in recorder.events[4:]] == [e["eventId"] for e in events]
    assert await queue.length() == 0


async def test_batches_are_sent_oldest_first(scripted: Any) -> None:
    recorder, queue, forwarder = scripted
    events = [event() for _ in range(10)]
    for item in events:
        await queue.put([item])
    while await forwarder.forward_once() == "sent":
        pass
    assert [len(r["events"]) for r in recorder.requests] == [4, 4, 2]
    assert [e["eventId"] for e in recorder.events] == [e["eventId"] for e in events]


async def test_hub_user_replaces_any_identity_from_the_browser(
    jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    recorder = Recorder()
    async with fake_class_server(recorder) as url:
        extension.server_url = url
        extension.hub_user = "ada-hub"
        await post(jp_fetch, [event(emailAddress="mallory@example.org", userId="mallory")])
        await eventually(lambda: _value(bool(recorder.events)))
    sent = recorder.events[0]
    assert sent["userId"] == "ada-hub"
    assert "emailAddress" not in sent


async def _when(value: Awaitable[Any], predicate: Callable[[Any], bool]) -> Any:
    result = await value
    return result if predicate(result) else None


async def _value(value: Any) -> Any:
    return value


async def test_on_a_hub_the_servers_hub_token_authenticates(
    jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    recorder = Recorder()
    async with fake_class_server(recorder) as url:
        extension.server_url = url
        extension.ingest_token = "course-token"
        extension.hub_api_token = "the-servers-hub-token"
        extension.hub_identity = True
        await post(jp_fetch, [event()])
        await eventually(lambda: _value(bool(recorder.requests)))
        assert recorder.requests[0]["headers"]["Authorization"] == "token the-servers-hub-token"
        assert (await status(jp_fetch))["identity"] == "hub"
        # Off (the default): the ingest token, as before.
        extension.hub_identity = False
        await post(jp_fetch, [event()])
        await eventually(lambda: _value(len(recorder.requests) > 1))
        assert recorder.requests[1]["headers"]["Authorization"] == "Bearer course-token"
        assert (await status(jp_fetch))["identity"] == "declared"


async def test_the_hub_token_never_goes_to_an_address_from_the_browser(
    jp_serverapp: Any, jp_fetch: Any, extension: Any
) -> None:
    recorder = Recorder()
    async with fake_class_server(recorder) as url:
        extension.server_url = ""
        extension.hub_api_token = "the-servers-hub-token"
        extension.hub_identity = True
        body = {"events": [event()], "target": {"serverUrl": url}}
        response = await jp_fetch("cell-monitor", "events", method="POST", body=json.dumps(body))
        assert response.code == 202
        await eventually(lambda: _value(bool(recorder.requests)))
    assert "the-servers-hub-token" not in json.dumps(recorder.requests[0]["headers"])
