"""The live statuses `quiet` and `away` end to end on one server (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from tests.dashboard_client import Message, dashboard, is_alert
from tests.support import event, live_server, sign_in

URL = "/api/v1/events"
ADA = "ada@example.org"


def engagement(**fields: Any) -> dict[str, Any]:
    body = event(**{"eventType": "engagement", "visible": True, "idle": False, **fields})
    for name in ("code", "result", "executionCount", "hasError", "executionDurationMs"):
        body.pop(name, None)
    return body


def edits(cell: int = 5, count: int = 4) -> dict[str, Any]:
    return engagement(cellIndex=cell, cells=[{"cellIndex": cell, "edits": count, "activeMs": 900}])


def has_status(status: str, student: str = ADA) -> Callable[[Message], bool]:
    return lambda m: (
        m["type"] == "student"
        and m["student"]["student"] == student
        and m["student"]["status"] == status
    )


@pytest.fixture
async def quick(settings: Settings) -> AsyncIterator[str]:
    fast = settings.model_copy(
        update={
            "live_sweep_seconds": 0.1,
            "quiet_after_seconds": 0.6,
            "away_after_seconds": 0.4,
            "active_window_seconds": 30.0,
        }
    )
    async with live_server(fast) as url:
        yield url


async def post(http: httpx.AsyncClient, *body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = (await http.post(URL, json=list(body))).json()
    assert answer["accepted"] == len(body), answer
    return answer


async def test_editing_without_a_passing_run_turns_quiet_until_it_passes(quick: str) -> None:
    async with httpx.AsyncClient(base_url=quick) as http, dashboard(quick) as board:
        await post(http, event(cellIndex=4))
        await post(http, edits(cell=5))
        raised = await board.wait_for(is_alert("quiet", "raised", ADA))
        assert (
            raised["alert"]["since"] is not None and raised["alert"]["notebook"] == "lesson1.ipynb"
        )
        quiet = await board.wait_for(has_status("quiet"))
        assert quiet["student"]["editingCellIndex"] == 5
        # A failing run is no passing run: still quiet (quiet comes before error).
        await post(http, event(cellIndex=5, hasError=True, errorName="AssertionError"))
        failed = await board.wait_for(lambda m: has_status("quiet")(m) and m["student"]["errors"])
        assert failed["student"]["lastError"]["name"] == "AssertionError"
        await post(http, event(cellIndex=5))
        await board.wait_for(is_alert("quiet", "cleared", ADA))
        await board.wait_for(has_status("active"))
        live = (await http.get("/api/v1/live", headers=await sign_in(quick))).json()
        (ada,) = live["students"]
        assert ada["status"] == "active" and ada["editingSince"] is None
        assert live["thresholds"]["quietAfterSeconds"] == 0.6


async def test_an_idle_student_is_not_quiet(quick: str) -> None:
    async with httpx.AsyncClient(base_url=quick) as http, dashboard(quick) as board:
        await post(http, edits(), engagement(idle=True))
        await board.wait_for(has_status("idle"))
        headers = await sign_in(quick)
        (ada,) = (await http.get("/api/v1/live", headers=headers)).json()["students"]
        assert ada["status"] == "idle"
        assert not [m for m in board.messages if is_alert("quiet", "raised", ADA)(m)]


async def test_a_hidden_notebook_turns_away_apart_from_idle(quick: str) -> None:
    async with httpx.AsyncClient(base_url=quick) as http, dashboard(quick) as board:
        await post(http, engagement(visible=False))
        away = await board.wait_for(has_status("away"))
        assert away["student"]["visible"] is False and away["student"]["hiddenSince"]
        await post(http, engagement(visible=True))
        back = await board.wait_for(lambda m: has_status("active")(m) and m["student"]["visible"])
        assert back["student"]["hiddenSince"] is None


async def test_engagement_capture_off_refuses_engagement_and_drops_its_fields(
    settings: Settings,
) -> None:
    off = settings.model_copy(update={"engagement_capture": False})
    async with live_server(off) as url, httpx.AsyncClient(base_url=url) as http:
        answer = (await http.post(URL, json=[edits(), event(edits=3, activeMs=5000)])).json()
        assert answer["accepted"] == 1
        (rejected,) = answer["rejected"]
        assert rejected["index"] == 0 and "engagement capture is off" in rejected["errors"][0]
        headers = await sign_in(url)
        times = await http.get(
            "/api/v1/time-on-task", params={"notebook": "lesson1.ipynb"}, headers=headers
        )
        (ada,) = times.json()["students"]
        assert ada["activeSeconds"] == 0 and ada["cells"][0]["edits"] == 0
