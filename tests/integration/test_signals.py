"""Test results per question and time on task through the real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from cell_monitor.config import Settings
from cell_monitor.privacy.erasure import erase_from_database
from cell_monitor.privacy.export import export_student
from cell_monitor.storage import migrations
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.retention import prune
from tests.support import event, query_sql

URL = "/api/v1/events"
NOTEBOOK = "lesson1.ipynb"


def at(minutes: float) -> str:
    # Recent times relative to the test's own start: nothing depends on wall-clock minutes.
    return (START + timedelta(minutes=minutes)).isoformat()


START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


def graded_run(
    student: str, minute: float, question: str, passed: bool, cell: int = 3, **fields: Any
) -> dict[str, Any]:
    return event(
        emailAddress=student,
        eventTime=at(minute),
        cellIndex=cell,
        cellId=f"cell-{cell}",
        hasError=not passed,
        errorName=None if passed else "AssertionError",
        tests=[{"question": question, "passed": passed, "kind": "nbgrader", "maxPoints": 2}],
        **fields,
    )


def activity(student: str, minute: float, *cells: tuple[int, int, float], **fields: Any) -> Any:
    return event(
        eventType="engagement",
        emailAddress=student,
        eventTime=at(minute),
        code=None,
        result=None,
        executionCount=None,
        hasError=None,
        executionDurationMs=None,
        visible=True,
        idle=False,
        cells=[{"cellIndex": i, "edits": e, "activeMs": ms} for i, e, ms in cells],
        **fields,
    )


async def post(client: httpx.AsyncClient, body: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post(URL, json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    assert not answer["rejected"], answer
    return answer


async def test_latest_outcome_and_first_pass_per_question(client: httpx.AsyncClient) -> None:
    fail, passing, late_fail = (
        graded_run("ada@x.org", 1, "q1", False),
        graded_run("ada@x.org", 5, "q1", True),
        # Arrives last but happened before the pass: an attempt, not the latest outcome.
        graded_run("ada@x.org", 3, "q1", False),
    )
    await post(client, [fail, passing, graded_run("bob@x.org", 2, "q1", False)])
    await post(client, [late_fail, passing])  # the pass resent: stored once
    await post(client, [graded_run("bob@x.org", 4, "q2", True, cell=5)])

    out = (await client.get("/api/v1/questions", params={"notebook": NOTEBOOK})).json()
    stats = {q["question"]: q for q in out["questions"]}
    assert [q["question"] for q in out["questions"]] == ["q1", "q2"]  # cell order
    assert stats["q1"] | {} == {
        **stats["q1"],
        "attempted": 2,
        "passed": 1,
        "failed": 1,
        "everPassed": 1,
        "passRate": 0.5,
        "maxPoints": 2,
        "cellIndex": 3,
        "kind": "nbgrader",
    }
    ada = next(s for s in out["students"] if s["student"] == "ada@x.org")
    (q1,) = ada["questions"]
    assert q1["passed"] is True and q1["attempts"] == 3
    assert datetime.fromisoformat(q1["firstPassedAt"]) == datetime.fromisoformat(at(5))
    assert ada["passed"] == 1

    # The event log keeps the outcomes too (as metadata), the whole record.
    stored = (await client.get("/api/v1/events", params={"student": "ada@x.org"})).json()
    tests = [e["metadata"]["tests"] for e in stored["items"] if e.get("metadata")]
    assert {t[0]["passed"] for t in tests} == {True, False}

    failing = (await client.get("/api/v1/questions/failing")).json()["items"]
    assert [(f["question"], f["failing"]) for f in failing] == [("q1", 1)]
    assert failing[0]["students"][0]["student"] == "bob@x.org"
    assert failing[0]["students"][0]["errorName"] == "AssertionError"


async def test_a_later_pass_then_fail_shows_the_fail_but_keeps_the_first_pass(
    client: httpx.AsyncClient,
) -> None:
    await post(client, [graded_run("ada@x.org", 1, "q1", True)])
    await post(client, [graded_run("ada@x.org", 2, "q1", False)])
    (ada,) = (await client.get("/api/v1/questions")).json()["students"]
    assert ada["questions"][0]["passed"] is False
    assert ada["questions"][0]["firstPassedAt"] is not None
    assert ada["questions"][0]["errorName"] == "AssertionError"


async def test_time_on_task_per_student_and_cell_and_for_the_class(
    client: httpx.AsyncClient,
) -> None:
    await post(
        client,
        [
            activity("ada@x.org", 0, (3, 10, 60_000), (4, 0, 5_000)),
            activity("ada@x.org", 1, (3, 5, 30_000)),
            # A run carries its own cell's activity since the last report.
            graded_run("ada@x.org", 2, "q1", False, edits=2, activeMs=10_000),
            graded_run("ada@x.org", 6, "q1", True),
            activity("bob@x.org", 0, (3, 1, 200_000)),
        ],
    )
    out = (await client.get("/api/v1/time-on-task", params={"notebook": NOTEBOOK})).json()
    ada = next(s for s in out["students"] if s["student"] == "ada@x.org")
    cell3 = next(c for c in ada["cells"] if c["cellIndex"] == 3)
    assert cell3["activeSeconds"] == 100 and cell3["edits"] == 17 and cell3["runs"] == 2
    assert cell3["secondsToPass"] == 6 * 60  # from the first activity on the cell
    assert ada["activeSeconds"] == 105
    class3 = next(c for c in out["cells"] if c["cellIndex"] == 3)
    assert class3["students"] == 2 and class3["medianSeconds"] == 150
    assert class3["slow"] is True  # 150 s against 5 s for the other cell
    assert class3["medianSecondsToPass"] == 360

    detail = (await client.get("/api/v1/student-signals", params={"student": "ada@x.org"})).json()
    (notebook,) = detail["notebooks"]
    assert notebook["notebook"] == NOTEBOOK and notebook["activeSeconds"] == 105
    assert [q["question"] for q in notebook["questions"]] == ["q1"]
    missing = await client.get("/api/v1/student-signals", params={"student": "nobody"})
    assert missing.status_code == 404


async def test_csv_exports_hold_outcomes_and_time(client: httpx.AsyncClient) -> None:
    await post(
        client,
        [
            graded_run("ada@x.org", 1, "q1", True, edits=3, activeMs=42_000),
            graded_run("=cmd@x.org", 1, "q1", False),
        ],
    )
    answer = await client.get("/api/v1/export/questions.csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {(r["student"], r["question"], r["passed"]) for r in rows} == {
        ("ada@x.org", "q1", "True"),
        ("'=cmd@x.org", "q1", "False"),
    }
    answer = await client.get("/api/v1/export/time-on-task.csv", params={"notebook": NOTEBOOK})
    by_student = {r["student"]: r for r in csv.DictReader(io.StringIO(answer.text))}
    assert by_student.keys() == {"ada@x.org", "'=cmd@x.org"}
    ada = by_student["ada@x.org"]
    assert (ada["activeSeconds"], ada["edits"], ada["runs"]) == ("42.0", "3", "1")
    assert by_student["'=cmd@x.org"]["activeSeconds"] == "0.0"


async def test_bad_signal_fields_reject_that_event_only(client: httpx.AsyncClient) -> None:
    bad = graded_run("ada@x.org", 1, "q1", True)
    bad["tests"] = [{"question": "", "passed": "maybe"}]
    negative = activity("ada@x.org", 1, (3, -1, 10.0))
    good = graded_run("bob@x.org", 1, "q1", True)
    answer = (await client.post(URL, json=[bad, negative, good])).json()
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [0, 1]
    assert any("tests" in e for e in answer["rejected"][0]["errors"])
    # Older clients (no signal fields at all) are unaffected.
    await post(client, [event(emailAddress="old@x.org")])
    students = (await client.get("/api/v1/questions")).json()["students"]
    assert [s["student"] for s in students] == ["bob@x.org"]


async def signal_rows(database_url: str, student: str) -> tuple[int, int]:
    counts = []
    for table in ("test_results", "cell_activity"):
        sql = (
            f"SELECT count(*) FROM {table} t JOIN students s ON s.id = t.student_id "
            f"WHERE s.student_key = '{student}'"
        )
        counts.append((await asyncio.to_thread(query_sql, database_url, sql))[0][0])
    return counts[0], counts[1]


async def test_export_erasure_and_retention_cover_outcomes_and_time(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=200)
    await post(
        client,
        [
            # A run's own activity goes with its latest_runs row, a report's to cell_activity.
            graded_run("ada@x.org", 1, "q1", True, edits=3, activeMs=4000),
            activity("ada@x.org", 2, (3, 5, 900.0)),
            graded_run("bob@x.org", 1, "q1", True, edits=1, activeMs=1000),
            activity("bob@x.org", 2, (3, 1, 100.0)),
            event(
                emailAddress="cid@x.org",
                eventTime=old.isoformat(),
                tests=[{"question": "q9", "passed": False}],
                edits=2,
                activeMs=500,
            ),
            {**activity("cid@x.org", 0, (3, 1, 100.0)), "eventTime": old.isoformat()},
        ],
    )
    engine = create_engine(settings)
    try:
        data = await export_student(engine, ["ada@x.org"])
        (result,) = data["testResults"]
        assert (result["question"], result["passed"], result["attempts"]) == ("q1", True, 1)
        assert data["cellActivity"][0]["edits"] == 5
        assert (data["latestRuns"][0]["edits"], data["latestRuns"][0]["active_ms"]) == (3, 4000)
        found, counts = await erase_from_database(engine, ["ada@x.org"])
        assert found == ["ada@x.org"]
        assert counts["test_results"] == 1 and counts["cell_activity"] == 1
        assert await signal_rows(database_url, "bob@x.org") == (1, 1)
        report = await prune(engine, settings, timedelta(days=90))
        assert report.report_rows["test_results"] == 1
        assert report.report_rows["cell_activity"] == 1
    finally:
        await engine.dispose()
    assert await signal_rows(database_url, "cid@x.org") == (0, 0)
    assert await signal_rows(database_url, "bob@x.org") == (1, 1)


async def test_the_migration_downgrades_and_upgrades_without_losing_events(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    await post(client, [graded_run("ada@x.org", 1, "q1", True, edits=1, activeMs=10)])
    count = "SELECT count(*) FROM events"
    before = await asyncio.to_thread(query_sql, database_url, count)
    await asyncio.to_thread(migrations.downgrade, settings, None, "0008")
    assert await asyncio.to_thread(query_sql, database_url, count) == before
    await asyncio.to_thread(migrations.upgrade, settings)
    assert await asyncio.to_thread(query_sql, database_url, count) == before
    students = "SELECT student_key, input_idle FROM students"
    assert await asyncio.to_thread(query_sql, database_url, students) == [("ada@x.org", False)]
