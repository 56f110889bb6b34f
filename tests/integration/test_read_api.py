"""The read API the dashboard stands on: events, students, stats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from tests.support import event

T0 = datetime(2025, 1, 18, 9, 0, tzinfo=timezone.utc)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


async def seed(client: httpx.AsyncClient) -> list[dict]:
    events = [
        event(
            emailAddress="ada@example.org",
            teamName="A",
            eventTime=at(0),
            eventType="notebook_opened",
        ),
        event(emailAddress="ada@example.org", teamName="A", eventTime=at(1)),
        event(
            emailAddress="ada@example.org",
            teamName="A",
            eventTime=at(2),
            hasError=True,
            errorName="NameError",
            errorMessage="name 'df' is not defined",
            cellIndex=7,
        ),
        event(
            emailAddress="bob@example.org",
            userName="Bob",
            teamName="B",
            eventTime=at(3),
            notebookPath="lesson2.ipynb",
        ),
        event(
            emailAddress="bob@example.org",
            userName="Bob",
            teamName="B",
            eventTime=at(4),
            eventType="help",
            notebookPath="lesson2.ipynb",
        ),
        event(emailAddress=None, userId="hub-carol", eventTime=at(5), teamName="A"),
    ]
    response = await client.post("/api/v1/events", json=events)
    assert response.json()["accepted"] == len(events)
    return events


async def test_events_newest_first_with_execution_fields(client: httpx.AsyncClient) -> None:
    sent = await seed(client)
    items = (await client.get("/api/v1/events")).json()["items"]
    assert [i["eventId"] for i in items] == [e["eventId"] for e in reversed(sent)]
    failed = next(i for i in items if i["eventId"] == sent[2]["eventId"])
    assert failed["hasError"] is True
    assert failed["errorName"] == "NameError"
    assert failed["cellIndex"] == 7
    assert failed["executionDurationMs"] == 12.5
    assert failed["notebookPath"] == "lesson1.ipynb"
    assert failed["sessionId"] == "session-1"
    assert failed["eventTime"].startswith("2025-01-18T09:02:00")
    opened = next(i for i in items if i["eventType"] == "notebook_opened")
    assert opened["code"] is None and opened["hasError"] is None


async def test_event_filters(client: httpx.AsyncClient) -> None:
    sent = await seed(client)

    async def ids(**params: object) -> list[str]:
        page = (await client.get("/api/v1/events", params=params)).json()
        return [i["eventId"] for i in page["items"]]

    ada = [e["eventId"] for e in reversed(sent[:3])]
    assert await ids(student="ADA@example.org") == ada
    assert await ids(student="hub-carol") == [sent[5]["eventId"]]
    assert await ids(notebook="lesson2.ipynb") == [sent[4]["eventId"], sent[3]["eventId"]]
    assert await ids(eventType="help") == [sent[4]["eventId"]]
    both = await ids(eventType=["help", "notebook_opened"])
    assert both == [sent[4]["eventId"], sent[0]["eventId"]]
    # cell_executed is read by time: the type index holds every other type only.
    executions = [sent[i]["eventId"] for i in (5, 3, 2, 1)]
    assert await ids(eventType="cell_executed") == executions
    mixed = await ids(eventType=["HELP", "cell_executed"])
    assert mixed == [sent[i]["eventId"] for i in (5, 4, 3, 2, 1)]
    assert await ids(since=at(1), until=at(3)) == [sent[2]["eventId"], sent[1]["eventId"]]
    assert await ids(student="nobody@example.org") == []


async def test_cursor_pages_cover_everything_once(client: httpx.AsyncClient) -> None:
    # Several events share a timestamp: the cursor must break ties by id.
    batch = [event(eventTime=at(i // 3)) for i in range(25)]
    await client.post("/api/v1/events", json=batch)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/events", params=params)).json()
        seen += [i["eventId"] for i in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 7
    assert sorted(seen) == sorted(e["eventId"] for e in batch)
    assert len(seen) == len(set(seen))


async def test_bad_query_parameters_are_422(client: httpx.AsyncClient) -> None:
    for params in ({"cursor": "garbage"}, {"limit": 0}, {"limit": 5000}, {"since": "soon"}):
        assert (await client.get("/api/v1/events", params=params)).status_code == 422


async def test_students_with_activity_and_counts(client: httpx.AsyncClient) -> None:
    await seed(client)
    students = (await client.get("/api/v1/students")).json()["items"]
    assert [s["student"] for s in students] == ["hub-carol", "bob@example.org", "ada@example.org"]
    ada = students[2]
    assert (ada["events"], ada["executions"], ada["errors"]) == (3, 2, 1)
    assert ada["teamName"] == "A" and ada["userName"] == "Ada"
    assert ada["lastActivity"].startswith("2025-01-18T09:02:00")
    assert ada["firstSeen"].startswith("2025-01-18T09:00:00")
    bob = students[1]
    assert (bob["events"], bob["executions"], bob["errors"]) == (2, 1, 0)
    team_a = (await client.get("/api/v1/students", params={"team": "A"})).json()["items"]
    assert {s["student"] for s in team_a} == {"ada@example.org", "hub-carol"}


async def test_stats_totals(client: httpx.AsyncClient) -> None:
    empty = (await client.get("/api/v1/stats")).json()
    assert empty["events"] == 0 and empty["firstEvent"] is None
    await seed(client)
    stats = (await client.get("/api/v1/stats")).json()
    assert stats["events"] == 6
    assert stats["students"] == 3
    assert stats["notebooks"] == 2
    assert stats["sessions"] == 3
    assert stats["executions"] == 4
    assert stats["errors"] == 1
    assert stats["eventsByType"] == {"cell_executed": 4, "notebook_opened": 1, "help": 1}
    assert stats["firstEvent"].startswith("2025-01-18T09:00:00")
    assert stats["lastEvent"].startswith("2025-01-18T09:05:00")
