"""`cell-monitor simulate` against real servers: what a simulated class leaves behind."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cell_monitor.config import Settings
from cell_monitor.simulate import ClassProfile, Sender, Simulation
from cell_monitor.simulate.notebook import CELLS
from tests.support import (
    ServerProcess,
    eventually,
    free_port,
    instructor_client,
    is_config_variable,
    live_server,
    query_sql,
)


async def test_a_class_shows_up_with_errors_help_and_stuck_students(
    settings: Settings, database_url: str
) -> None:
    profile = ClassProfile(students=12, speed=150, seed=7, struggler_share=0.34)
    seen_stuck: set[str] = set()
    async with live_server(settings) as url, instructor_client(url) as http:
        sender = Sender(url, batch_size=50, flush_seconds=0.1)
        simulation = Simulation(profile, sender)
        run = asyncio.create_task(simulation.run())
        # Not a wait: a student is stuck only for a while, so the live view is
        # sampled for as long as the class runs.
        while not run.done():
            live = (await http.get("/api/v1/live")).json()
            seen_stuck |= {s["student"] for s in live["students"] if s["consecutiveErrors"] >= 3}
            await asyncio.sleep(0.2)
        final = run.result()
        await sender.aclose()
        live = (await http.get("/api/v1/live")).json()

    assert final.finished == 12 and final.pending == 0
    assert sender.stats.accepted == final.events and sender.stats.rejected == 0
    assert seen_stuck, "no student was ever stuck (3+ errors in a row) on /api/v1/live"
    assert len(live["students"]) == 12
    assert {s["teamName"] for s in live["students"]} == {"Team 1", "Team 2", "Team 3", "Team 4"}

    stored = dict(
        await asyncio.to_thread(
            query_sql, database_url, "SELECT event_type, count(*) FROM events GROUP BY 1"
        )
    )
    assert stored["notebook_opened"] == 12 and stored["notebook_closed"] == 12
    assert stored["help"] >= 1 and stored["help_stop"] >= 1 and stored["notebook_saved"] >= 12
    errors = dict(
        await asyncio.to_thread(
            query_sql,
            database_url,
            "SELECT error_name, count(*) FROM cell_executions WHERE has_error GROUP BY 1",
        )
    )
    assert {"NameError", "KeyError", "TypeError", "SyntaxError"} <= set(errors), errors
    assert sum(errors.values()) == final.errors
    # Every student ran the last code cell successfully: the lesson was finished.
    last_code = max(c.index for c in CELLS if c.cell_type == "code")
    done = await asyncio.to_thread(
        query_sql,
        database_url,
        f"SELECT count(DISTINCT student_id) FROM cell_executions "
        f"WHERE cell_index = {last_code} AND NOT has_error",
    )
    assert done[0][0] == 12


class Collector(Sender):
    """Records what the class emits instead of sending it (for the determinism check)."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9")
        self.events: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()


def _actions(events: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    by_student: dict[str, list[tuple[Any, ...]]] = {}
    for e in events:
        action = (e["eventType"], e.get("cellIndex"), e.get("errorName"), e.get("code"))
        by_student.setdefault(e["emailAddress"], []).append(action)
    return by_student


async def test_same_seed_same_class() -> None:
    runs = []
    for seed in (11, 11, 12):
        collector = Collector()
        await Simulation(ClassProfile(students=6, speed=2000, seed=seed), collector).run()
        await collector.aclose()
        runs.append(_actions(collector.events))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@asynccontextmanager
async def busy_server(busy_answers: int) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An ingest endpoint that answers 503 + Retry-After: 1 first, then 202."""
    calls: list[dict[str, Any]] = []

    async def ingest(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append({"at": time.monotonic(), "auth": request.headers.get("authorization"),
                      "ids": [e["eventId"] for e in body]})  # fmt: skip
        if len(calls) <= busy_answers:
            return JSONResponse({"detail": "busy"}, 503, headers={"Retry-After": "1"})
        return JSONResponse({"accepted": len(body), "duplicates": 0, "rejected": []}, 202)

    app = Starlette(routes=[Route("/api/v1/events", ingest, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, port=free_port(), log_config=None))
    task = asyncio.create_task(server.serve())
    # uvicorn offers no event to wait on, only its flag.
    await eventually(lambda: server.started, what="the stub server to start", interval=0.01)
    try:
        yield f"http://127.0.0.1:{server.config.port}", calls
    finally:
        server.should_exit = True
        await task


async def test_retries_honour_retry_after_and_send_the_token() -> None:
    async with busy_server(busy_answers=2) as (url, calls):
        sender = Sender(url, token="class-token", flush_seconds=0.05)
        final = await Simulation(ClassProfile(students=1, speed=5000, seed=1), sender).run()
        await sender.aclose()
    assert final.pending == 0 and sender.stats.retries == 2
    assert sender.stats.accepted == final.events
    for refused in calls[:2]:
        # The same batch (same eventIds) again, no sooner than Retry-After (with jitter).
        again = [c for c in calls if c["ids"] == refused["ids"] and c["at"] > refused["at"]]
        assert again and again[0]["at"] - refused["at"] >= 0.75
    assert {c["auth"] for c in calls} == {"Bearer class-token"}


async def _cli(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not is_config_variable(k)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cell_monitor.cli", "simulate", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_command_line(settings: Settings, database_url: str) -> None:
    async with live_server(settings) as url:
        code, out, err = await _cli("--students", "3", "--speed", "1000", "--seed", "5",
                                    "--server", url)  # fmt: skip
    assert code == 0, err
    assert "3 students" in out and "3 done" in out
    # Not a terminal: plain progress lines (no bar), nothing else.
    assert err and all(line.startswith("simulate") for line in err.splitlines()), err
    students = await asyncio.to_thread(query_sql, database_url, "SELECT count(*) FROM students")
    assert students[0][0] == 3

    code, _, err = await _cli("--students", "1", "--server", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "no cell-monitor server answers" in err


async def demo_class(server: ServerProcess) -> list[Any]:
    """The live view of `serve --demo` once its 30 simulated students are in."""
    await asyncio.to_thread(server.wait_ready)
    async with instructor_client(server.url) as http:

        async def whole_class() -> list[Any]:
            students: list[Any] = (await http.get("/api/v1/live")).json()["students"]
            return students if len(students) >= 30 else []

        return await eventually(
            whole_class, timeout=60, what="30 simulated students", context=server.output
        )


async def test_serve_demo_runs_a_class_on_a_throwaway_database(tmp_path: Path) -> None:
    server = ServerProcess({"XDG_DATA_HOME": str(tmp_path)}, "--demo")
    try:
        students = await demo_class(server)
    finally:
        await asyncio.to_thread(server.stop)
    assert len(students) == 30, server.output()
    assert "demo: 30 simulated students" in server.output()
    # Its own database, next to (not in) the real one.
    assert str(tmp_path / "cell-monitor-demo" / "cell-monitor.sqlite3") in server.output()
