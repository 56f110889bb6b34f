"""Wait figures of help requests: GET /api/v1/help/stats, /metrics and the CSV exports."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from cell_monitor.broker.memory import MemoryBroker
from cell_monitor.config import Settings
from cell_monitor.help.service import HelpService
from cell_monitor.live.service import LiveService
from cell_monitor.storage.engine import create_engine
from tests.integration.test_health_metrics import samples, value
from tests.support import event, eventually, instructor_client, live_server, query_sql

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


async def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    return await asyncio.to_thread(query_sql, url, statement)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


async def test_wait_figures_today_and_per_session(settings: Settings, database_url: str) -> None:
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as http:
        body = [event(userId=f"s{n}", emailAddress=None) for n in range(4)]
        assert (await http.post("/api/v1/events", json=body)).status_code == 202
    ids = dict(await sql(database_url, "SELECT student_key, id FROM students"))
    rows = [
        # yesterday's class (its own session): one request answered after 10 min
        (ids["s0"], "dismissed", NOON - timedelta(days=1), NOON - timedelta(days=1, minutes=-10)),
        # today, 09:00-09:30: answered after 1, 3 and (still open at noon) 180 min
        (ids["s1"], "claimed", NOON - timedelta(hours=3), NOON - timedelta(hours=3, minutes=-1)),
        (ids["s2"], "resolved", NOON - timedelta(hours=2, minutes=50), None),
        (ids["s3"], "open", NOON - timedelta(hours=2, minutes=45), None),
    ]
    for student_id, state, opened, answered in rows:
        closed = (
            "NULL" if state in ("open", "claimed") else f"'{stamp(opened + timedelta(minutes=3))}'"
        )
        answer = f"'{stamp(answered)}'" if answered else "NULL"
        await sql(
            database_url,
            "INSERT INTO help_requests (student_id, state, opened_at, answered_at, closed_at) "
            f"VALUES ({student_id}, '{state}', '{stamp(opened)}', {answer}, {closed})",
        )
    engine = create_engine(settings)
    try:
        live = LiveService(settings, engine, MemoryBroker())
        stats = await HelpService(settings, engine, live, None).stats(now=NOON)
    finally:
        await engine.dispose()
    today = stats.today
    assert (today.requests, today.answered, today.open) == (3, 1, 2)
    # Waits: 60 s (claimed), 180 s (withdrawn unanswered), 2 h 45 min (waiting at noon).
    assert today.median_wait_seconds == 180
    assert today.longest_wait_seconds == 165 * 60
    assert [(s.requests, s.median_wait_seconds) for s in stats.sessions] == [(3, 180), (1, 600)]
    assert stats.sessions[0].started_at == NOON - timedelta(hours=3)


async def test_stats_metrics_and_csv_over_http(settings: Settings) -> None:
    fast = settings.model_copy(update={"help_metrics_seconds": 0.1})
    async with live_server(fast) as url, instructor_client(url) as staff:
        asks = [
            event(eventType="help", userId=who, emailAddress=None, code=None, userName=who.upper())
            for who in ("ada", "grace", "=cmd")
        ]
        assert (await staff.post("/api/v1/events", json=asks)).status_code == 202
        assert (await staff.post("/api/v1/help/claim", params={"student": "ada"})).is_success
        assert (await staff.post("/api/v1/help/dismiss", params={"student": "grace"})).is_success

        stats = (await staff.get("/api/v1/help/stats")).json()
        assert stats["today"]["requests"] == 3 and stats["today"]["answered"] == 2
        assert stats["today"]["open"] == 2  # ada (claimed) and =cmd
        assert stats["today"]["longestWaitSeconds"] >= stats["today"]["medianWaitSeconds"] >= 0

        async def figures_in_metrics() -> str:
            text = (await staff.get("/metrics")).text
            assert value(text, "help_requests_open", state="open") == 1
            assert value(text, "help_requests_open", state="claimed") == 1
            return text

        text = await eventually(figures_in_metrics, what="the help figures in /metrics")
        assert ("help_wait_longest_seconds", ()) in samples(text)
        assert value(text, "help_actions_total", action="claim") >= 1
        labels = {v for _, pairs in samples(text) for _, v in pairs}
        assert not labels & {"ada", "grace", "=cmd"}  # no student as a label

        exported = await staff.get("/api/v1/export/help.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["student"], r["state"]) for r in rows] == [
            ("ada", "claimed"),
            ("grace", "dismissed"),
            ("'=cmd", "open"),  # never a formula in a spreadsheet
        ]
        assert rows[0]["claimedBy"] == "admin (instructor)" and float(rows[0]["waitSeconds"]) >= 0
        sessions = await staff.get("/api/v1/export/help-sessions.csv")
        [session] = list(csv.DictReader(io.StringIO(sessions.text)))
        assert session["requests"] == "3" and session["answered"] == "2"

    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as anonymous:
        for path in ("/api/v1/help/stats", "/api/v1/help/queue", "/api/v1/export/help.csv"):
            assert (await anonymous.get(path)).status_code == 401
        refused = await anonymous.post("/api/v1/help/claim", params={"student": "ada"})
        assert refused.status_code == 401
