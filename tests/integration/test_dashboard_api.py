"""The REST endpoints behind the instructor dashboard, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.support import TEST_ADMIN, event, instructor_client

URL = "/api/v1/events"
T0 = datetime.now(timezone.utc) - timedelta(minutes=30)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def run(
    who: str, cell: int, seconds: float, error: tuple[str, str] | None = None, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "emailAddress": f"{who}@example.org",
        "userName": who.title(),
        "teamName": "A" if who < "m" else "B",
        "cellIndex": cell,
        "cellId": f"c{cell}",
        "eventTime": at(seconds),
        "hasError": error is not None,
        **fields,
    }
    if error:
        body["errorName"], body["errorMessage"] = error
        body["result"] = None
    return event(**body)


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    response = await client.post(URL, json=events)
    assert response.status_code == 202 and response.json()["accepted"] == len(events)


@pytest.fixture
async def dash(server: str) -> Any:
    async with instructor_client(server) as client:
        yield client


async def test_me_names_the_signed_in_instructor(
    dash: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    assert (await dash.get("/api/v1/me")).json() == {"username": TEST_ADMIN, "role": "admin"}
    assert (await anonymous.get("/api/v1/me")).status_code == 401


async def test_page_and_assets_are_served_for_a_strict_csp(dash: httpx.AsyncClient) -> None:
    root = await dash.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/dashboard"
    page = await dash.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    # Nothing inline: scripts, styles and handlers all come from files.
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html and "style=" not in html
    assert re.findall(r"\son[a-z]+=", html) == []
    assert "http://" not in html and "https://" not in html
    for asset in re.findall(r'(?:src|href)="(/dashboard/static/[^"]+)"', html):
        response = await dash.get(asset)
        assert response.status_code == 200, asset
    script = await dash.get("/dashboard/static/js/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/ws/dashboard" in (await dash.get("/dashboard/static/js/main.js")).text
    for bad in ("/dashboard/static/../index.html", "/dashboard/static/%2e%2e/index.html"):
        assert (await dash.get(bad)).status_code == 404
    assert (await dash.get("/dashboard/static/nothing.js")).status_code == 404


async def test_progress_shows_each_students_latest_run_per_cell(dash: httpx.AsyncClient) -> None:
    name_error = ("NameError", "name 'df' is not defined")
    await post(
        dash,
        [
            run("ada", 0, 1),
            run("ada", 1, 2, name_error),
            run("ada", 1, 3),  # fixed it
            run("bob", 0, 1),
            run("bob", 1, 2),
            run("bob", 1, 5, name_error),  # broke it again
            run("bob", 3, 6),
            run("zed", 0, 10),
            # A late event (older than what zed's cell 0 already says) changes nothing.
            run("zed", 0, 4, name_error),
            run("ada", 0, 1, notebookPath="other.ipynb"),
        ],
    )
    notebooks = (await dash.get("/api/v1/notebooks")).json()["items"]
    by_path = {n["path"]: n for n in notebooks}
    assert by_path["lesson1.ipynb"] == {
        "path": "lesson1.ipynb",
        "students": 3,
        "executions": 9,
        "errors": 3,
        "lastActivity": by_path["lesson1.ipynb"]["lastActivity"],
    }
    assert set(by_path) == {"lesson1.ipynb", "other.ipynb"}
    # Counts cover a window; notebooks without runs in it are still listed.
    quiet = (await dash.get("/api/v1/notebooks", params={"hours": 0.0001})).json()
    assert {n["path"]: n["executions"] for n in quiet["items"]} == {
        "lesson1.ipynb": 0,
        "other.ipynb": 0,
    }

    progress = (await dash.get("/api/v1/progress", params={"notebook": "lesson1.ipynb"})).json()
    assert progress["cellCount"] == 4
    assert progress["cells"] == [
        {"cellIndex": 0, "reached": 3, "ok": 3, "failed": 0},
        {"cellIndex": 1, "reached": 2, "ok": 1, "failed": 1},
        {"cellIndex": 3, "reached": 1, "ok": 1, "failed": 0},
    ]
    cells = {s["student"]: s["cells"] for s in progress["students"]}
    assert cells == {
        "ada@example.org": {"0": "ok", "1": "ok"},
        "bob@example.org": {"0": "ok", "1": "failed", "3": "ok"},
        "zed@example.org": {"0": "ok"},
    }
    team_b = await dash.get("/api/v1/progress", params={"notebook": "lesson1.ipynb", "team": "B"})
    assert [s["student"] for s in team_b.json()["students"]] == ["zed@example.org"]
    nothing = (await dash.get("/api/v1/progress", params={"notebook": "nope.ipynb"})).json()
    assert nothing["cells"] == [] and nothing["students"] == [] and nothing["cellCount"] == 0
    assert (await dash.get("/api/v1/progress")).status_code == 422


async def test_hotspots_group_errors_by_cell_and_message(dash: httpx.AsyncClient) -> None:
    name_error = ("NameError", "name 'df' is not defined")
    key_error = ("KeyError", "'price'")
    events = [run(who, 7, 10 + i, name_error) for i, who in enumerate(["ada", "bob", "cy"])]
    events += [run("ada", 7, 20, name_error), run("dan", 2, 5, key_error)]
    events += [run("eve", 7, 9, name_error, notebookPath="other.ipynb")]
    events += [run("old", 7, -7200, name_error)]  # two and a half hours ago
    await post(dash, events)

    body = (await dash.get("/api/v1/hotspots", params={"notebook": "lesson1.ipynb"})).json()
    first = body["items"][0]
    assert (first["cellIndex"], first["errorName"], first["errorMessage"]) == (7, *name_error)
    assert first["students"] == 4 and first["occurrences"] == 5
    assert [w["student"] for w in first["who"]][:3] == [
        "ada@example.org",
        "cy@example.org",
        "bob@example.org",
    ]
    assert {w["student"] for w in first["who"]} == {
        "ada@example.org",
        "bob@example.org",
        "cy@example.org",
        "old@example.org",
    }
    second = body["items"][1]
    assert (second["cellIndex"], second["errorName"], second["students"]) == (2, "KeyError", 1)
    assert len(body["items"]) == 2

    recent = await dash.get("/api/v1/hotspots", params={"notebook": "lesson1.ipynb", "hours": 1})
    assert recent.json()["items"][0]["students"] == 3
    assert {item["notebook"] for item in body["items"]} == {"lesson1.ipynb"}
    # Across notebooks, cell 7 of other.ipynb is another cell: a group of its own.
    everywhere = (await dash.get("/api/v1/hotspots")).json()["items"]
    assert [(i["notebook"], i["cellIndex"], i["students"]) for i in everywhere] == [
        ("lesson1.ipynb", 7, 4),
        ("lesson1.ipynb", 2, 1),
        ("other.ipynb", 7, 1),
    ]
    assert [w["student"] for w in everywhere[2]["who"]] == ["eve@example.org"]
    limited = (await dash.get("/api/v1/hotspots", params={"limit": 1, "who": 2})).json()["items"]
    assert len(limited) == 1 and limited[0]["students"] == 4
    assert [w["student"] for w in limited[0]["who"]] == ["ada@example.org", "cy@example.org"]
    assert (await dash.get("/api/v1/hotspots", params={"limit": 0})).status_code == 422


async def test_student_detail_has_timeline_help_and_sessions(dash: httpx.AsyncClient) -> None:
    events = [
        run("ada", i, i * 10, code=f"x = {i}", result=f"out {i}", executionDurationMs=i)
        for i in range(5)
    ]
    events.append(run("ada", 5, 60, ("ZeroDivisionError", "division by zero"), code="1/0"))
    events.append(
        event(eventType="help", emailAddress="ada@example.org", eventTime=at(70), sessionId="s2")
    )
    await post(dash, events)
    assert (await dash.post("/api/v1/students/ada@example.org/help/dismiss")).status_code == 200

    first = (await dash.get("/api/v1/students/ada@example.org/detail", params={"limit": 4})).json()
    assert first["student"] == "ada@example.org" and first["userName"] == "Ada"
    runs = first["executions"]
    assert [r["cellIndex"] for r in runs] == [5, 4, 3, 2]
    assert runs[0]["hasError"] and runs[0]["errorName"] == "ZeroDivisionError"
    assert runs[0]["code"] == "1/0" and runs[0]["outputSummary"] is None
    assert runs[1] | {"eventId": None, "eventTime": None} == {
        "eventId": None,
        "eventTime": None,
        "notebookPath": "lesson1.ipynb",
        "cellIndex": 4,
        "cellId": "c4",
        "executionCount": 1,
        "code": "x = 4",
        "durationMs": 4.0,
        "hasError": False,
        "errorName": None,
        "errorMessage": None,
        "outputSummary": "out 4",
    }
    assert [(h["kind"], h["by"]) for h in first["help"]] == [
        ("dismiss_help", "instructor"),
        ("help", "student"),
    ]
    assert {s["sessionId"] for s in first["sessions"]} == {"session-1", "s2"}

    rest = await dash.get(
        "/api/v1/students/ADA@example.org/detail",
        params={"limit": 4, "cursor": first["nextCursor"]},
    )
    assert [r["cellIndex"] for r in rest.json()["executions"]] == [1, 0]
    assert rest.json()["nextCursor"] is None
    assert (await dash.get("/api/v1/students/nobody/detail")).status_code == 404
    bad = await dash.get("/api/v1/students/ada@example.org/detail", params={"cursor": "x"})
    assert bad.status_code == 422


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_csv_exports_of_students_and_executions(dash: httpx.AsyncClient) -> None:
    events = [run("ada", 0, 1, code="=HYPERLINK('x')"), run("bob", 0, 2)]
    events += [run("bob", 1, 3, ("NameError", "name 'df' is not defined"))]
    events += [run("zed", 0, 4, notebookPath="other.ipynb")]
    await post(dash, events)

    students = read_csv(await dash.get("/api/v1/export/students.csv"))
    assert [s["student"] for s in students] == [
        "ada@example.org",
        "bob@example.org",
        "zed@example.org",
    ]
    bob = students[1]
    assert bob["status"] == "error" and bob["lastErrorName"] == "NameError"
    assert bob["executions"] == "2" and bob["errors"] == "1" and bob["teamName"] == "A"
    team_b = read_csv(await dash.get("/api/v1/export/students.csv", params={"team": "B"}))
    assert [s["student"] for s in team_b] == ["zed@example.org"]

    runs = read_csv(await dash.get("/api/v1/export/executions.csv"))
    assert len(runs) == 4 and runs[0]["student"] == "ada@example.org"
    # A spreadsheet must not run students' code as a formula.
    assert runs[0]["code"] == "'=HYPERLINK('x')"
    mine = await dash.get(
        "/api/v1/export/executions.csv",
        params={"student": "bob@example.org", "notebook": "lesson1.ipynb"},
    )
    assert [(r["cellIndex"], r["hasError"]) for r in read_csv(mine)] == [
        ("0", "False"),
        ("1", "True"),
    ]
    since = await dash.get("/api/v1/export/executions.csv", params={"since": at(3)})
    assert [r["student"] for r in read_csv(since)] == ["bob@example.org", "zed@example.org"]
