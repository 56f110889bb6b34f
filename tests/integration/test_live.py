"""Live class state and /ws/dashboard on one server (in-process broker)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from cell_monitor.domain.live_status import LiveState, apply_events
from cell_monitor.ingest.parse import validate_batch
from cell_monitor.live.messages import student_view
from tests.dashboard_client import dashboard, is_alert, is_event
from tests.integration.test_health_metrics import value
from tests.support import event, live_server, sign_in

URL = "/api/v1/events"


def failing(**fields: Any) -> dict[str, Any]:
    defaults = {"errorName": "NameError", "errorMessage": "name 'df' is not defined"}
    return event(hasError=True, **{**defaults, **fields})


async def test_help_alert_reaches_every_dashboard_and_clears(
    server: str, client: httpx.AsyncClient
) -> None:
    async with dashboard(server) as first, dashboard(server) as second:
        await client.post(URL, json=[event(eventType="help")])
        for board in (first, second):
            await board.wait_for(is_alert("help", "raised", "ada@example.org"))
        await client.post(URL, json=[event(eventType="help_stop")])
        for board in (first, second):
            await board.wait_for(is_alert("help", "cleared", "ada@example.org"))

        await client.post(URL, json=[event(eventType="help")])
        response = await client.post("/api/v1/students/ada@example.org/help/dismiss")
        assert response.status_code == 200 and response.json()["helpSince"] is None
        for board in (first, second):
            cleared = await board.wait_for(
                lambda m: (
                    is_alert("help", "cleared", "ada@example.org")(m)
                    and m["alert"]["by"] == "instructor"
                )
            )
            assert cleared["alert"]["student"] == "ada@example.org"
    missing = await client.post("/api/v1/students/nobody@example.org/help/dismiss")
    assert missing.status_code == 404


async def test_three_failures_make_a_stuck_alert_and_a_success_clears_it(
    server: str, client: httpx.AsyncClient
) -> None:
    async with dashboard(server) as board:
        for _ in range(2):
            await client.post(URL, json=[failing()])
        await board.wait_for(lambda m: m["type"] == "student" and m["student"]["status"] == "error")
        assert not any(kind == "stuck" for kind, *_ in board.alerts())
        await client.post(URL, json=[failing()])
        raised = await board.wait_for(is_alert("stuck", "raised", "ada@example.org"))
        assert raised["alert"]["errorName"] == "NameError"
        assert raised["alert"]["consecutiveErrors"] == 3
        await client.post(URL, json=[event()])
        await board.wait_for(is_alert("stuck", "cleared", "ada@example.org"))
        status = await board.wait_for(
            lambda m: m["type"] == "student" and m["student"]["consecutiveErrors"] == 0
        )
        assert status["student"]["status"] == "active"

        for _ in range(3):
            await client.post(URL, json=[failing()])
        handled = await client.post("/api/v1/students/ada@example.org/stuck/handled")
        assert handled.json()["status"] == "error"
        await board.wait_for(
            lambda m: (
                is_alert("stuck", "cleared", "ada@example.org")(m)
                and m["alert"]["by"] == "instructor"
            )
        )


async def test_snapshot_equals_the_state_replayed_from_stored_events(
    server: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    students = ["ada@example.org", "bob@example.org", "cy@example.org"]
    batch = []
    for i in range(30):
        who = students[i % 3]
        make = failing if i % 4 == 0 else event
        batch.append(make(emailAddress=who, cellIndex=i % 5, teamName=who[0].upper()))
    batch.append(event(emailAddress="bob@example.org", eventType="help"))
    for start in range(0, len(batch), 7):  # several groups and requests
        await client.post(URL, json=batch[start : start + 7])
    await client.post("/api/v1/students/cy@example.org/stuck/handled")

    async with dashboard(server) as board:
        snapshot = board.of_type("snapshot")[0]
    stored = []
    cursor = None
    while True:
        page = (
            await client.get(URL, params={"limit": 10, **({"cursor": cursor} if cursor else {})})
        ).json()
        stored += page["items"]
        if not (cursor := page["nextCursor"]):
            break
    # Replay what is stored (not what was sent) through the same rules.
    replayed = {}
    as_sent = [{**item, "emailAddress": item["student"]} for item in stored]
    events = validate_batch(as_sent, settings).events
    now = datetime.now(timezone.utc)
    thresholds = await _thresholds(client)
    for key in students:
        mine = [e for e in events if e.student_key == key]
        state = apply_events(LiveState(student=key), mine)
        replayed[key] = student_view(state, now, thresholds).model_dump(mode="json", by_alias=True)
    by_student = {s["student"]: s for s in snapshot["students"]}
    for key in students:
        got, want = by_student[key], replayed[key]
        for field in (
            "status",
            "events",
            "executions",
            "errors",
            "lastNotebook",
            "lastCellIndex",
            "lastError",
            "helpSince",
            "lastActivity",
        ):
            if key == "cy@example.org" and field in ("status",):
                continue  # an instructor action changed it after the events
            assert got[field] == want[field], (key, field)
    assert by_student["bob@example.org"]["status"] == "help"


async def _thresholds(client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from cell_monitor.domain.live_status import Thresholds

    body = (await client.get("/api/v1/live")).json()["thresholds"]
    return Thresholds(body["stuckAfterErrors"], timedelta(seconds=body["activeWindowSeconds"]))


async def test_filters_limit_what_a_dashboard_gets(server: str, client: httpx.AsyncClient) -> None:
    async with dashboard(server, team="B") as team_b:
        a = event(emailAddress="ada@example.org", teamName="A")
        b = event(emailAddress="bob@example.org", teamName="B")
        await client.post(URL, json=[a, b])
        # Messages arrive in commit order: once a later commit's event is here,
        # anything of the first request that was going to come has come.
        later = event(emailAddress="bob@example.org", teamName="B")
        await client.post(URL, json=[later])
        await team_b.wait_for(is_event(later["eventId"]))
        ids = [m["event"]["eventId"] for m in team_b.of_type("event")]
        assert ids == [b["eventId"], later["eventId"]]
        assert {m["student"]["student"] for m in team_b.of_type("student")} == {"bob@example.org"}
    async with dashboard(server, team="A") as team_a:
        assert [s["student"] for s in team_a.of_type("snapshot")[0]["students"]] == [
            "ada@example.org"
        ]


@pytest.fixture
async def fast_heartbeat(settings: Settings) -> AsyncIterator[str]:
    quick = settings.model_copy(
        update={
            "ws_heartbeat_seconds": 0.2,
            "live_sweep_seconds": 0.2,
            "active_window_seconds": 0.5,
        }
    )
    async with live_server(quick) as url:
        yield url


async def test_heartbeats_and_silent_clients_are_closed(fast_heartbeat: str) -> None:
    async with dashboard(fast_heartbeat) as board:
        await board.wait_for(lambda m: m["type"] == "heartbeat")
        await board.send({"type": "heartbeat_response"})
        # Having answered once, a client that stops answering is closed.
        await asyncio.wait_for(board.closed.wait(), 10)
    async with dashboard(fast_heartbeat) as quiet:
        # A client that never answered is kept (protocol pings watch it).
        for _ in range(3):
            await quiet.wait_for(lambda m: m["type"] == "heartbeat")
            quiet.messages.clear()
        assert not quiet.closed.is_set()


async def test_students_turning_idle_are_announced(fast_heartbeat: str) -> None:
    async with (
        httpx.AsyncClient(base_url=fast_heartbeat) as http,
        dashboard(fast_heartbeat) as board,
    ):
        await http.post(URL, json=[event()])
        await board.wait_for(
            lambda m: m["type"] == "student" and m["student"]["status"] == "active"
        )
        await board.wait_for(lambda m: m["type"] == "student" and m["student"]["status"] == "idle")


async def test_a_dashboard_that_never_reads_does_not_hold_back_anyone(
    settings: Settings,
) -> None:
    tuned = settings.model_copy(update={"ws_send_timeout_seconds": 1, "ws_queue_messages": 100_000})
    async with live_server(tuned) as url:
        headers = await sign_in(url)
        http = httpx.AsyncClient(base_url=url, timeout=60, headers=headers)
        # A dashboard that completes the handshake, then never reads, with a
        # small receive buffer: the server's sends back up quickly.
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        stalled.sendall(
            b"GET /ws/dashboard HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n" + f"Cookie: {headers['Cookie']}\r\n\r\n".encode()
        )
        closed_before = value(
            (await http.get("/metrics")).text, "dashboard_closed_total", reason="send_timeout"
        )
        try:
            async with dashboard(url) as reader:
                # ~20 MB of messages: far more than socket buffers hold.
                batches = [
                    [
                        failing(emailAddress=f"s{i}@example.org", errorMessage="e" * 300)
                        for i in range(250)
                    ]
                    for _ in range(40)
                ]
                accepted = 0
                for batch in batches:
                    accepted += (await http.post(URL, json=batch)).json()["accepted"]
                assert accepted == 10_000
                last = batches[-1][-1]["eventId"]
                await reader.wait_for(is_event(last), timeout=60)
                received = {m["event"]["eventId"] for m in reader.of_type("event")}
                assert received == {e["eventId"] for b in batches for e in b}
            closed = value(
                (await http.get("/metrics")).text, "dashboard_closed_total", reason="send_timeout"
            )
            assert closed - closed_before == 1
            assert (await http.get("/api/v1/stats")).json()["events"] == 10_000
        finally:
            stalled.close()
            await http.aclose()


def _answer_schema(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    responses = spec["paths"][path][method]["responses"]
    ok = responses.get("200") or responses["202"]
    schema: dict[str, Any] = ok["content"]["application/json"]["schema"]
    return schema


async def test_openapi_documents_the_live_answers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert _answer_schema(spec, "/api/v1/live", "get") == {"$ref": "#/components/schemas/Snapshot"}
    for action in ("help/dismiss", "stuck/handled"):
        schema = _answer_schema(spec, f"/api/v1/students/{{student}}/{action}", "post")
        assert schema == {"$ref": "#/components/schemas/StudentView"}, action
    snapshot = spec["components"]["schemas"]["Snapshot"]
    assert {"type", "serverTime", "thresholds", "students"} <= set(snapshot["required"])
    # Every JSON answer is a named model of the contract, never a bare dict (file
    # downloads, CSV and /metrics answer other media types).
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            content = (responses.get("200") or responses["202"]).get("content", {})
            if "application/json" not in content:
                continue
            schema = _answer_schema(spec, path, method)
            assert set(schema) == {"$ref"}, (method, path, schema)
