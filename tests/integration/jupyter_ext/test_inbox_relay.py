"""The Jupyter server's relay of the student's inbox, against a real class server."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from cell_monitor.accounts import ingest_tokens
from cell_monitor.accounts.ingest_tokens import RosterEntry
from cell_monitor.storage.engine import create_engine
from tests.integration.jupyter_ext.test_forwarding import post
from tests.integration.test_health_metrics import value
from tests.support import (
    event,
    eventually,
    free_port,
    instructor_client,
    live_server,
    make_settings,
)


async def lab_inbox(jp_fetch: Any, since: str | None = None, wait: float = 0) -> dict[str, Any]:
    params = {"wait": str(wait), **({"since": since} if since else {})}
    response = await jp_fetch("cell-monitor", "inbox", params=params, request_timeout=wait + 30)
    assert response.code == 200
    return dict(json.loads(response.body))


async def _credentials(settings: Any) -> tuple[str, str]:
    engine = create_engine(settings)
    try:
        [(_, _, ada)] = await ingest_tokens.create_student_credentials(
            engine, [RosterEntry("ada", "Ada", "red")], "python-101"
        )
        _, course = await ingest_tokens.create_token(engine, "python-101")
    finally:
        await engine.dispose()
    return ada, course


async def test_the_student_sees_a_claim_through_their_jupyter_server(
    jp_fetch: Any, extension: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"
    settings = make_settings(url, tmp_path / "class")
    async with live_server(settings) as base, instructor_client(base) as staff:
        ada, _ = await _credentials(settings)
        extension.server_url, extension.ingest_token = base, ada
        first = await eventually(
            lambda: _with_state(jp_fetch, "ok"), what="the relay to reach the class server"
        )
        assert first["inbox"]["help"] is None

        # Two tabs hold a long-poll each: one upstream long-poll serves both.
        tabs = [asyncio.create_task(lab_inbox(jp_fetch, first["etag"], wait=20)) for _ in range(2)]

        async def one_upstream_poll() -> bool:
            metrics = (await staff.get("/metrics")).text
            return value(metrics, "inbox_waiting_polls") == 1

        await eventually(one_upstream_poll, what="the relay's long-poll to be held upstream")
        ask = str(uuid.uuid4())
        help_event = event(eventType="help", helpRequestId=ask, code=None, cellType=None)
        await post(jp_fetch, [help_event])
        for tab in tabs:
            answer = await asyncio.wait_for(tab, 20)
            assert answer["state"] == "ok"
            assert answer["inbox"]["help"]["state"] == "open"
            assert answer["inbox"]["help"]["helpRequestId"] == ask

        held = asyncio.create_task(lab_inbox(jp_fetch, answer["etag"], wait=20))
        claim = await staff.post("/api/v1/help/claim", params={"student": "ada"})
        assert claim.status_code == 200
        claimed = (await asyncio.wait_for(held, 20))["inbox"]["help"]
        assert claimed["state"] == "claimed" and claimed["claimedBy"] == "admin (instructor)"


async def test_a_course_token_gets_a_clear_refusal(
    jp_fetch: Any, extension: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"
    settings = make_settings(url, tmp_path / "class")
    await eventually(lambda: _with_state(jp_fetch, "not_configured"))
    async with live_server(settings) as base:
        _, course = await _credentials(settings)
        extension.server_url, extension.ingest_token = base, course
        refused = await eventually(lambda: _with_state(jp_fetch, "refused"))
        assert "per-student credential" in refused["detail"]
        assert refused["inbox"] is None


async def test_the_relay_keeps_its_copy_through_a_class_server_restart(
    jp_fetch: Any, extension: Any, tmp_path: Path, class_server_factory: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"
    port = free_port()
    async with class_server_factory(port) as base:
        ada, _ = await _credentials(make_settings(url, tmp_path / "class"))
        extension.server_url, extension.ingest_token = base, ada
        async with httpx.AsyncClient(base_url=base) as http:
            # Named as ada: until the server reloads its credentials, ingest is still open.
            help_event = event(
                eventType="help", emailAddress=None, userId="ada", code=None, cellType=None
            )
            answer = await http.post(
                "/api/v1/events", json=[help_event], headers={"Authorization": f"Bearer {ada}"}
            )
            assert answer.status_code == 202
        before = await eventually(lambda: _help_state(jp_fetch, "open"))
    down = await eventually(lambda: _with_state(jp_fetch, "unreachable"))
    # What the student saw stays shown while the class server is away.
    assert down["inbox"]["help"] == before["inbox"]["help"]
    async with class_server_factory(port):
        back = await eventually(lambda: _with_state(jp_fetch, "ok"))
        assert back["inbox"]["help"]["id"] == before["inbox"]["help"]["id"]


async def _with_state(jp_fetch: Any, state: str) -> dict[str, Any] | None:
    answer = await lab_inbox(jp_fetch)
    return answer if answer["state"] == state else None


async def _help_state(jp_fetch: Any, state: str) -> dict[str, Any] | None:
    answer = await lab_inbox(jp_fetch)
    help_view = (answer.get("inbox") or {}).get("help")
    return answer if help_view and help_view["state"] == state else None
