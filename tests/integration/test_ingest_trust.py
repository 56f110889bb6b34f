"""One student's bad (or odd) event never costs anyone else, and never freezes state.

Every test runs on a real SQLite file and a real PostgreSQL (the `backend`
fixture), through the real HTTP API of a real server. Each bad payload is posted
with a valid neighbour in the same request while other students post at the
same time: the neighbours are stored, the victim can send again, nothing
answers 5xx.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from tests.support import event, query_sql

URL = "/api/v1/events"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))  # Python 3.10 wants +00:00


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def four_byte_path() -> str:
    # 1024 characters of a 4-byte script: over PostgreSQL's btree row maximum.
    rnd = random.Random(1)
    return "".join(chr(rnd.randrange(0x20000, 0x2A6DF)) for _ in range(1024))


# name → (victim's fields, raw JSON text of the victim or None, what it gets:
# a substring of its rejection, or None when it is stored)
PAYLOADS: dict[str, tuple[dict[str, Any], str | None, str | None]] = {
    "year-1": ({"eventTime": "0001-01-01T00:00:00Z"}, None, "eventTime: is before 2000-01-01"),
    "year-9999": ({"eventTime": "9999-12-31T23:59:59.999999Z"}, None, None),
    "year-1-plus-14h": (
        {"eventTime": "0001-01-01T00:00:00+14:00"},
        None,
        "eventTime: is out of range once converted to UTC",
    ),
    "year-1999": ({"eventTime": "1999-12-31T23:59:59Z"}, None, "eventTime: is before 2000"),
    "execution-count-2^63": ({"executionCount": 2**63}, None, "executionCount"),
    "execution-count-2^31": ({"executionCount": 2**31}, None, "executionCount"),
    "nesting-300": ({"clientState": nested(300)}, None, None),
    "nesting-2000": ({"clientState": nested(2000)}, None, "nests over 512 levels"),
    "integer-2^70-in-metadata": ({}, '"bigNumber": 1180591620717411303424', None),
    "lone-surrogate": ({}, '"code": "x = \\"\\ud800\\""', "lone UTF-16 surrogate"),
    "lone-surrogate-in-metadata": ({}, '"note": "\\udfff"', "note: text holds a lone"),
    "nul-in-event-id": ({"eventId": "a\x00b"}, None, "eventId: must not contain NUL"),
    "nul-in-text": ({"code": "a\x00b", "cellType": "co\x00de", "userName": "\x00"}, None, None),
    "four-byte-notebook-path": ({"notebookPath": four_byte_path()}, None, None),
}


def victim_body(fields: dict[str, Any], raw: str | None, student: str) -> str:
    text = json.dumps(event(emailAddress=student, **fields))
    if raw is not None:
        text = text[:-1] + ", " + raw + "}"
    return text


async def post_raw(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(URL, content=text, headers={"content-type": "application/json"})


async def stored_ids(settings: Settings) -> set[str]:
    rows = await asyncio.to_thread(query_sql, settings.database_url, "SELECT event_id FROM events")
    return {row[0] for row in rows}


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_a_bad_event_costs_only_itself(
    name: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    fields, raw, refusal = PAYLOADS[name]
    victim = f"victim-{uuid.uuid4().hex[:6]}@example.org"
    neighbour = event(emailAddress="ada@example.org")
    # The nesting payloads are too deep for the stdlib encoder: build the text by hand.
    if "clientState" in fields:
        depth = name.split("-")[1]
        inner = "{" + '"a": {' * int(depth) + "}" * int(depth) + "}"
        body = victim_body({}, f'"clientState": {inner}', victim)
    else:
        body = victim_body(fields, raw, victim)
    together = "[" + body + ", " + json.dumps(neighbour) + "]"
    others = [[event(emailAddress=f"s{n}@example.org") for _ in range(3)] for n in range(6)]

    responses = await asyncio.gather(
        post_raw(client, together), *(client.post(URL, json=batch) for batch in others)
    )

    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    result = responses[0].json()
    if refusal is None:
        assert result["accepted"] == 2 and result["rejected"] == [], result
    else:
        assert result["accepted"] == 1, result
        [rejected] = result["rejected"]
        assert rejected["index"] == 0 and refusal in rejected["errors"][0], rejected
    expected = {neighbour["eventId"], *(e["eventId"] for batch in others for e in batch)}
    assert expected <= await stored_ids(settings)

    again = await client.post(URL, json=[event(emailAddress=victim), event(emailAddress=victim)])
    assert again.status_code == 202 and again.json()["accepted"] == 2, again.text
    # Nothing the store holds is outside what clocks can say.
    times = await asyncio.to_thread(
        query_sql,
        settings.database_url,
        "SELECT count(*) FROM events WHERE event_time < '2000-01-01' OR event_time > '2100-01-01'",
    )
    assert times[0][0] == 0
    listed = await client.get(URL, params={"student": victim})
    assert listed.status_code == 200 and len(listed.json()["items"]) == 2 + (refusal is None)


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999-14:00", "not a time"]
)
async def test_read_api_times_out_of_range_are_422(client: httpx.AsyncClient, since: str) -> None:
    for path in (URL, "/api/v1/export/executions.csv"):
        for name in ("since", "until"):
            response = await client.get(path, params={name: since})
            assert response.status_code == 422, (path, name, response.text)
            assert name in response.text
    assert (await client.get(URL, params={"since": "0001-01-01T00:00:00Z"})).status_code == 200


# --- time you can believe -----------------------------------------------------


async def live_student(client: httpx.AsyncClient, student: str) -> dict[str, Any]:
    snapshot = (await client.get("/api/v1/live")).json()
    [view] = [s for s in snapshot["students"] if s["student"] == student]
    return view


async def test_a_time_ahead_of_the_receipt_is_stored_as_the_receipt(
    client: httpx.AsyncClient,
) -> None:
    before = datetime.now(timezone.utc)
    ahead = event(eventTime="2999-01-01T00:00:00Z", eventType="notebook_saved")
    slightly = event(eventTime=(before + timedelta(seconds=60)).isoformat())
    response = await client.post(URL, json=[ahead, slightly])
    assert response.status_code == 202
    assert response.json()["accepted"] == 2 and response.json()["clockAdjusted"] == 1
    items = {e["eventId"]: e for e in (await client.get(URL)).json()["items"]}
    stored = items[ahead["eventId"]]
    when = parse_time(stored["eventTime"])
    assert before <= when <= datetime.now(timezone.utc)
    assert when == parse_time(stored["receivedAt"])
    assert stored["metadata"]["clientEventTime"].startswith("2999-01-01T00:00:00")
    # Within the allowed skew (CELL_MONITOR_CLOCK_SKEW_SECONDS) the client's time stands.
    kept = items[slightly["eventId"]]["eventTime"]
    assert parse_time(kept) == parse_time(slightly["eventTime"])
    assert (
        "metadata" not in items[slightly["eventId"]] or not items[slightly["eventId"]]["metadata"]
    )


async def test_a_client_clock_in_the_future_cannot_freeze_live_status(
    client: httpx.AsyncClient,
) -> None:
    far = "9999-12-31T23:59:59Z"
    # One help_stop dated 9999 does not hide later real help requests.
    await client.post(URL, json=[event(eventType="help_stop", eventTime=far)])
    await client.post(URL, json=[event(eventType="help")])
    assert (await live_student(client, "ada@example.org"))["status"] == "help"
    # Three failed runs dated 9999 do not pin a student as stuck.
    failed = {"hasError": True, "errorName": "NameError", "eventTime": far}
    bea = "bea@example.org"
    await client.post(URL, json=[event(emailAddress=bea, **failed) for _ in range(3)])
    assert (await live_student(client, bea))["status"] == "stuck"
    await client.post(URL, json=[event(emailAddress=bea)])
    assert (await live_student(client, bea))["status"] == "active"


async def test_state_frozen_by_an_older_server_is_released(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Rows written before eventTime was bounded may hold year-9999 times."""
    await client.post(URL, json=[event(eventType="notebook_opened")])
    await asyncio.to_thread(
        query_sql,
        settings.database_url,
        "UPDATE students SET help_changed_at = '9999-12-30 00:00:00', "
        "last_execution_at = '9999-12-30 00:00:00', consecutive_errors = 5, "
        "last_execution_failed = true",
    )
    await client.post(URL, json=[event(eventType="help")])
    assert (await live_student(client, "ada@example.org"))["status"] == "help"
    await client.post(URL, json=[event(eventType="help_stop"), event()])
    assert (await live_student(client, "ada@example.org"))["status"] == "active"


# --- odd identities -------------------------------------------------------------

ODD_IDS = ["a/b", "../x", ".", "..", "a/../b", "%2F", "50% off", "with space", "ünï/cødé", "a//b/"]


async def test_any_student_id_can_be_opened_dismissed_and_handled(
    client: httpx.AsyncClient,
) -> None:
    failed = {"hasError": True, "errorName": "NameError"}
    body = [
        e
        for student in ODD_IDS
        for e in (
            event(userId=student, emailAddress=None, eventType="help"),
            *(event(userId=student, emailAddress=None, **failed) for _ in range(3)),
        )
    ]
    assert (await client.post(URL, json=body)).json()["accepted"] == len(body)
    for student in ODD_IDS:
        detail = await client.get("/api/v1/students/detail", params={"student": student})
        assert detail.status_code == 200, (student, detail.text)
        assert detail.json()["student"] == student
        assert (await live_student(client, student))["status"] == "help"
        dismissed = await client.post("/api/v1/students/help/dismiss", params={"student": student})
        assert dismissed.status_code == 200 and dismissed.json()["status"] == "stuck", student
        handled = await client.post("/api/v1/students/stuck/handled", params={"student": student})
        assert handled.status_code == 200 and handled.json()["status"] == "error", student
    # The path form takes ids with "/" (and percent-encoded characters) too.
    await client.post(URL, json=[event(userId="a/b", emailAddress=None, eventType="help")])
    path = "/api/v1/students/a%2Fb/help/dismiss"
    dismissed = await client.post(path)
    assert dismissed.status_code == 200 and dismissed.json()["student"] == "a/b"
    assert (await client.get("/api/v1/students/50%25%20off/detail")).status_code == 200
    missing = await client.post("/api/v1/students/help/dismiss", params={"student": "nobody"})
    assert missing.status_code == 404


# --- the reference extension's dialect -------------------------------------------


async def test_a_markdown_render_is_no_run(client: httpx.AsyncClient) -> None:
    failed = {"hasError": True, "errorName": "NameError"}
    await client.post(URL, json=[event(**failed) for _ in range(3)])
    render = event(cellType="markdown", code="# Title", hasError=False, cellId="md-1")
    response = await client.post(URL, json=[render])
    assert response.json()["accepted"] == 1
    view = await live_student(client, "ada@example.org")
    assert view["status"] == "stuck" and view["executions"] == 3
    stats = (await client.get("/api/v1/stats")).json()
    assert stats["executions"] == 3 and stats["events"] == 4
    [stored] = [
        e for e in (await client.get(URL)).json()["items"] if e["eventId"] == render["eventId"]
    ]
    assert stored["metadata"]["cellType"] == "markdown"
    assert stored["metadata"]["code"] == "# Title" and stored["metadata"]["cellId"] == "md-1"


async def test_resends_of_a_dismissed_help_request_do_not_raise_it_again(
    client: httpx.AsyncClient,
) -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=40)

    def help_at(seconds: float, kind: str = "help") -> dict[str, Any]:
        return event(eventType=kind, eventTime=(start + timedelta(seconds=seconds)).isoformat())

    await client.post(URL, json=[help_at(0), help_at(10)])
    assert (await live_student(client, "ada@example.org"))["status"] == "help"
    dismissed = await client.post(
        "/api/v1/students/help/dismiss", params={"student": "ada@example.org"}
    )
    assert dismissed.json()["status"] != "help"
    for seconds in (20, 30, 40):  # the extension keeps resending while its button is on
        await client.post(URL, json=[help_at(seconds)])
        assert (await live_student(client, "ada@example.org"))["status"] != "help"
    await client.post(URL, json=[help_at(41, "help_stop")])
    await client.post(URL, json=[help_at(42)])  # the student asks again
    assert (await live_student(client, "ada@example.org"))["status"] == "help"


async def test_error_name_from_the_error_message(client: httpx.AsyncClient) -> None:
    runs = [
        event(hasError=True, errorMessage="ZeroDivisionError: division by zero"),
        event(hasError=True, errorMessage="requests.exceptions.HTTPError: 404"),
        event(hasError=True, errorMessage="something odd happened"),
        event(hasError=True, errorName="KeyError", errorMessage="ValueError: x"),
    ]
    assert (await client.post(URL, json=runs)).json()["accepted"] == 4
    names = {e["eventId"]: e["errorName"] for e in (await client.get(URL)).json()["items"]}
    assert [names[r["eventId"]] for r in runs] == [
        "ZeroDivisionError",
        "requests.exceptions.HTTPError",
        None,
        "KeyError",
    ]
    assert (await live_student(client, "ada@example.org"))["consecutiveErrors"] == 4


async def test_cell_fields_on_other_event_types_are_kept(client: httpx.AsyncClient) -> None:
    saved = event(eventType="notebook_saved", cellId="c-9", cellIndex=4, code="x = 1")
    assert (await client.post(URL, json=[saved])).json()["accepted"] == 1
    [stored] = (await client.get(URL)).json()["items"]
    assert stored["metadata"]["cellId"] == "c-9" and stored["metadata"]["cellIndex"] == 4
    assert stored["metadata"]["code"] == "x = 1" and stored["metadata"]["cellType"] == "code"
