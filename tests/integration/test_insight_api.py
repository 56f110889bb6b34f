"""Code insight over the real API (SQLite and PostgreSQL): run history, clusters, replay."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.support import event

URL = "/api/v1/events"
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=40)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def run(who: str, cell: int, seconds: float, code: str, error: str | None = None) -> dict[str, Any]:
    return event(
        emailAddress=f"{who}@example.org",
        userName=who.title(),
        teamName="A" if who < "m" else "B",
        cellIndex=cell,
        cellId=f"c{cell}",
        eventTime=at(seconds),
        code=code,
        hasError=error is not None,
        errorName=error,
        errorMessage=f"{error}: boom" if error else None,
        result=None if error else "ok",
    )


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    response = await client.post(URL, json=events)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(events)


async def test_run_history_diffs_consecutive_runs_and_pages_keep_the_diff(
    client: httpx.AsyncClient,
) -> None:
    await post(
        client,
        [
            run("ada", 2, 0, "x = 1\nprint(y)", "NameError"),
            run("ada", 2, 10, "x = 1\nprint(x)"),
            run("ada", 2, 20, "x = 2\nprint(x)"),
            run("ada", 3, 25, "other cell"),
        ],
    )
    query = {"student": "ada@example.org", "notebook": "lesson1.ipynb", "cell": 2}
    page = (await client.get("/api/v1/runs", params={**query, "limit": 2})).json()
    assert page["total"] == 3
    assert [r["outcome"] for r in page["runs"]] == ["NameError", "ok"]
    assert page["runs"][0]["diff"] is None
    assert "-print(y)" in page["runs"][1]["diff"] and "+print(x)" in page["runs"][1]["diff"]
    rest = (
        await client.get("/api/v1/runs", params={**query, "limit": 2, "cursor": page["nextCursor"]})
    ).json()
    assert [r["code"] for r in rest["runs"]] == ["x = 2\nprint(x)"]
    # The first run of a later page is still compared with the run before it.
    assert "-x = 1" in rest["runs"][0]["diff"] and "+x = 2" in rest["runs"][0]["diff"]
    assert rest["nextCursor"] is None
    by_cell_id = {"student": "ada@example.org", "notebook": "lesson1.ipynb", "cellId": "c3"}
    by_id = await client.get("/api/v1/runs", params=by_cell_id)
    assert [r["code"] for r in by_id.json()["runs"]] == ["other cell"]


async def test_run_history_answers_clearly_for_unknown_students_and_bad_queries(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    query = {"student": "nobody/../x", "notebook": "lesson1.ipynb", "cell": 0}
    assert (await client.get("/api/v1/runs", params=query)).status_code == 404
    no_cell = {"student": "a", "notebook": "lesson1.ipynb"}
    assert (await client.get("/api/v1/runs", params=no_cell)).status_code == 422
    bad_cursor = {**query, "cursor": "not-a-cursor"}
    assert (await client.get("/api/v1/runs", params=bad_cursor)).status_code == 422
    assert (await anonymous.get("/api/v1/runs", params=query)).status_code == 401


async def test_clusters_group_equivalent_latest_attempts_and_lead_with_common_failures(
    client: httpx.AsyncClient,
) -> None:
    wrong = "def area(r):\n    return 3.14 * r * 2"
    await post(
        client,
        [
            # An earlier attempt does not count: only each student's latest one.
            run("ada", 4, 0, "garbage(", "SyntaxError"),
            run("ada", 4, 5, "def area(r):\n    return 3.14 * r ** 2"),
            run("bob", 4, 6, "def area(radius):\n    # formula\n    return 3.14*radius**2"),
            run("cy", 4, 7, wrong, "AssertionError"),
            run("dee", 4, 8, "def area(x):\n    return 3.14 * x * 2", "AssertionError"),
            run("eve", 4, 9, "def area(x):\n    return 3.14 * x * 2  # twice", "AssertionError"),
            run("fay", 4, 10, "print(area(", "SyntaxError"),
            run("gus", 5, 11, "not this cell"),
        ],
    )
    body = (
        await client.get("/api/v1/clusters", params={"notebook": "lesson1.ipynb", "cell": 4})
    ).json()
    assert body["attempts"] == 6
    sizes = [(c["size"], c["outcome"]) for c in body["clusters"]]
    # Failing clusters first, the most common first; then the correct ones.
    assert sizes == [(3, "AssertionError"), (1, "SyntaxError"), (2, "ok")]
    wrong_cluster = body["clusters"][0]
    assert sorted(m["student"] for m in wrong_cluster["members"]) == [
        "cy@example.org",
        "dee@example.org",
        "eve@example.org",
    ]
    assert wrong_cluster["method"] == "ast"
    assert wrong_cluster["representative"] in (wrong, "def area(x):\n    return 3.14 * x * 2")
    assert body["clusters"][1]["method"] == "tokens"
    team_b = await client.get(
        "/api/v1/clusters", params={"notebook": "lesson1.ipynb", "cell": 4, "team": "B"}
    )
    assert team_b.json()["attempts"] == 0
    empty = await client.get("/api/v1/clusters", params={"notebook": "nope.ipynb", "cell": 4})
    assert empty.status_code == 200 and empty.json()["clusters"] == []


def graded(who: str, cell: int, seconds: float, question: str, error: str | None = None) -> Any:
    """A run of a test cell: the instructor's code, carrying the test's outcome."""
    return {
        **run(who, cell, seconds, f"grader.check({question!r})", error),
        "tests": [{"question": question, "passed": error is None, "kind": "otter"}],
    }


ANSWER = "def area(r):\n    return 3.14 * r ** 2"
WRONG = "def area(r):\n    return 3.14 * r * 2"


async def question_class(client: httpx.AsyncClient) -> None:
    """Cell 2 is the answer of q1 (tested in cell 3) and of q2 (tested in cell 4)."""
    await post(
        client,
        [
            run("ada", 0, 0, "import math"),
            run("ada", 2, 1, ANSWER),
            graded("ada", 3, 5, "q1"),
            graded("ada", 4, 10, "q2"),
            run("bob", 2, 1, "def area(radius):\n    # formula\n    return 3.14*radius**2"),
            graded("bob", 3, 6, "q1"),
            run("cy", 2, 2, WRONG, "AssertionError"),
            graded("cy", 3, 7, "q1", "AssertionError"),
            # Fixed after the latest test run: not what the test judged.
            run("cy", 2, 20, ANSWER),
            run("dee", 2, 3, "def area(x):\n    return 3.14 * x * 2"),
            graded("dee", 3, 8, "q1", "AssertionError"),
            graded("eve", 3, 9, "q1", "NameError"),  # ran no answer at all
            run("pat", 2, 4, "def area(x):\n    return 3.14 * x ** 2"),
            graded("pat", 3, 9, "q1"),
        ],
    )


async def clusters_of(client: httpx.AsyncClient, **params: Any) -> Any:
    response = await client.get("/api/v1/clusters", params={"notebook": "lesson1.ipynb", **params})
    assert response.status_code == 200, response.text
    return response.json()


def students_of(cluster: dict[str, Any]) -> list[str]:
    return sorted(m["student"].split("@")[0] for m in cluster["members"])


async def test_question_clusters_group_answers_by_shape_with_the_test_outcome(
    client: httpx.AsyncClient,
) -> None:
    await question_class(client)
    body = await clusters_of(client, question="q1")
    assert (body["question"], body["cellIndex"], body["attempts"]) == ("q1", 2, 6)
    summary = [(students_of(c), c["outcome"], c["passing"]) for c in body["clusters"]]
    # Failing clusters first, the most common first; eve has a result but no answer.
    assert summary == [
        (["cy", "dee"], "test failed: AssertionError", False),
        (["eve"], "test failed: NameError", False),
        (["ada", "bob", "pat"], "test passed", True),
    ]
    wrong, missing, right = body["clusters"]
    assert wrong["representative"] in (WRONG, "def area(x):\n    return 3.14 * x * 2")
    assert [m["cellIndex"] for m in wrong["members"]] == [2, 2]
    assert missing["method"] == "missing" and missing["members"][0]["code"] is None
    assert missing["members"][0]["eventTime"] is None
    assert right["method"] == "ast"
    # cy's answer is the one the test judged, not the fix run after it.
    cy = next(m for m in wrong["members"] if m["student"].startswith("cy"))
    assert cy["code"] == WRONG and when(cy["eventTime"]) == when(at(2))

    # q2's test cell sits below q1's: a test cell is never the answer, cell 2 is.
    q2 = await clusters_of(client, question="q2")
    ((ada,),) = [c["members"] for c in q2["clusters"]]
    assert (ada["cellIndex"], ada["code"], ada["outcome"]) == (2, ANSWER, "test passed")

    team_b = await clusters_of(client, question="q1", team="B")
    assert [students_of(c) for c in team_b["clusters"]] == [["pat"]]
    nobody = await clusters_of(client, question="q9")
    assert (nobody["attempts"], nobody["cellIndex"], nobody["clusters"]) == (0, None, [])


async def test_clusters_need_exactly_one_of_cell_and_question(client: httpx.AsyncClient) -> None:
    for params in ({}, {"cell": 2, "question": "q1"}):
        response = await client.get(
            "/api/v1/clusters", params={"notebook": "lesson1.ipynb", **params}
        )
        assert response.status_code == 422
        assert "give cell (its index) or question" in response.text


async def test_replay_rebuilds_status_and_heatmap_at_any_time(client: httpx.AsyncClient) -> None:
    help_at = at(100)
    await post(
        client,
        [
            run("ada", 0, -600, "x = 1"),  # before the window: ada's state at the start
            run("ada", 1, 60, "1/0", "ZeroDivisionError"),
            run("ada", 1, 70, "1/0", "ZeroDivisionError"),
            run("ada", 1, 80, "1/0", "ZeroDivisionError"),
            event(
                eventType="help",
                emailAddress="bob@example.org",
                userName="Bob",
                eventTime=help_at,
                notebookPath="lesson1.ipynb",
            ),
            run("bob", 0, 200, "ok = True"),
        ],
    )
    dismissed = await client.post("/api/v1/students/bob@example.org/help/dismiss")
    assert dismissed.status_code == 200
    params = {
        "start": at(0),
        "end": (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat(),
    }
    body = (await client.get("/api/v1/replay", params=params)).json()
    assert [s["student"] for s in body["students"]] == ["ada@example.org", "bob@example.org"]
    frames = body["frames"]
    assert frames == sorted(frames, key=lambda f: when(f["at"]))

    def status(who: str, t: str) -> str:
        """What the dashboard's replay shows for `who` at `t`."""
        seen = [f for f in frames if f["student"] == who and when(f["at"]) <= when(t)]
        last = seen[-1]
        if last["status"] == "active" and last["idleAt"] and when(last["idleAt"]) <= when(t):
            return "idle"
        return last["status"]

    assert frames[0]["at"].startswith(params["start"][:19])  # where ada stood at the start
    assert status("ada@example.org", at(65)) == "error"
    assert status("ada@example.org", at(85)) == "stuck"
    assert status("bob@example.org", at(150)) == "help"
    assert status("bob@example.org", at(1000)) == "help"  # a run does not close a request
    # The instructor's dismissal (just now) is part of the replay.
    assert status("bob@example.org", params["end"]) == "idle"
    cells = body["cells"]
    ada_cell0 = [c for c in cells if c["student"] == "ada@example.org" and c["cellIndex"] == 0]
    assert ada_cell0 and ada_cell0[0]["state"] == "ok"  # ran before the window: shown at start
    ada_cell1 = [
        c["state"] for c in cells if c["student"] == "ada@example.org" and c["cellIndex"] == 1
    ]
    assert ada_cell1 == ["failed", "failed", "failed"]


async def test_replay_refuses_windows_it_cannot_answer(client: httpx.AsyncClient) -> None:
    now = datetime.now(timezone.utc)
    too_long = {"start": (now - timedelta(hours=13)).isoformat(), "end": now.isoformat()}
    assert (await client.get("/api/v1/replay", params=too_long)).status_code == 422
    backwards = {"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()}
    assert (await client.get("/api/v1/replay", params=backwards)).status_code == 422
    edge = {"start": "0001-01-01T00:00:00+14:00", "end": now.isoformat()}
    assert (await client.get("/api/v1/replay", params=edge)).status_code == 422
    default = await client.get("/api/v1/replay")
    assert default.status_code == 200 and default.json()["frames"] == []


async def test_analysis_export_reads_straight_into_pandas(
    client: httpx.AsyncClient, tmp_path: Any
) -> None:
    import io
    import zipfile

    import pandas as pd

    formula = "=HYPERLINK(1)"
    await post(
        client,
        [
            run("ada", 0, 0, formula, "NameError"),
            run("zoe", 1, 5, "x = 1"),  # team B
            event(eventType="notebook_saved", emailAddress="ada@example.org", eventTime=at(9)),
        ],
    )
    frames: dict[str, dict[str, Any]] = {}
    for fmt in ("csv", "parquet"):
        response = await client.get("/api/v1/export/analysis.zip", params={"format": fmt})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        names = sorted(archive.namelist())
        assert names == [f"{t}.{fmt}" for t in ("events", "executions", "students")]
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        frames[fmt] = {n.split(".")[0]: read(io.BytesIO(archive.read(n))) for n in names}
    for fmt, tables in frames.items():
        events, executions = tables["events"], tables["executions"]
        assert len(events) == 3 and len(executions) == 2 and len(tables["students"]) == 2
        assert set(events["eventType"]) == {"cell_executed", "notebook_saved"}
        assert executions["hasError"].tolist() == [True, False]
        # CSV guards spreadsheets against formulas; Parquet keeps the code exact.
        expected = "'" + formula if fmt == "csv" else formula
        assert executions["code"].iloc[0] == expected
    assert str(frames["parquet"]["executions"]["eventTime"].dtype).startswith("datetime64")
    one_team = await client.get("/api/v1/export/analysis.zip", params={"team": "B"})
    archive = zipfile.ZipFile(io.BytesIO(one_team.content))
    students = pd.read_csv(io.BytesIO(archive.read("students.csv")))
    assert students["student"].tolist() == ["zoe@example.org"]


async def test_the_documented_pandas_recipe_runs_on_an_export(
    client: httpx.AsyncClient, tmp_path: Any
) -> None:
    import io
    import re
    import zipfile
    from pathlib import Path

    await post(
        client,
        [
            run("ada", 0, 0, "1/0", "ZeroDivisionError"),
            run("ada", 0, 5, "1/1"),
            run("ada", 1, 9, "x = 2"),
            run("bob", 0, 10, "print(x)", "NameError"),
            event(eventType="help", emailAddress="bob@example.org", eventTime=at(12)),
        ],
    )
    response = await client.get("/api/v1/export/analysis.zip", params={"format": "parquet"})
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path / "term")
    doc = (Path(__file__).parents[2] / "docs" / "analysis.md").read_text()
    recipe = re.search(r"```python\n(.*?)```", doc, re.S)
    assert recipe is not None
    scope: dict[str, Any] = {}
    exec(recipe.group(1).replace('"term/', f'"{tmp_path}/term/'), scope)
    assert scope["per_cell"].loc[("lesson1.ipynb", 0), "students"] == 2
    assert scope["attempts"].loc[("ada@example.org", 0)] == 2
    assert list(scope["behind"].index) == ["bob@example.org"]
    assert scope["askers"].to_dict() == {"bob@example.org": 1}
