"""Messages to students: audiences, sending, receipts and replies (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from tests.dashboard_client import dashboard
from tests.support import event, eventually, live_server, make_settings, sign_in

EVENTS = "/api/v1/events"
MESSAGES = "/api/v1/messages"


def student(name: str, **fields: Any) -> dict[str, Any]:
    return event(emailAddress=f"{name}@example.org", userName=name.title(), **fields)


def failing(name: str, cell: int, error: str = "NameError", **fields: Any) -> dict[str, Any]:
    return student(
        name,
        cellIndex=cell,
        hasError=True,
        errorName=error,
        errorMessage=f"{error}: name 'df' is not defined",
        **fields,
    )


def message(audience: dict[str, Any], body: str = "Check **df**", **fields: Any) -> dict[str, Any]:
    return {"requestId": str(uuid.uuid4()), "body": body, "audience": audience, **fields}


def answer(name: str, kind: str, uid: str, **fields: Any) -> dict[str, Any]:
    return student(name, eventType=kind, messageId=uid, **fields)


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    response = await client.post(EVENTS, json=events)
    assert response.status_code == 202 and not response.json()["rejected"], response.text


async def receipts(client: httpx.AsyncClient, uid: str) -> dict[str, int]:
    (item,) = (await client.get(MESSAGES, params={"ids": uid})).json()["items"]
    return dict(item["receipts"])


async def test_hotspot_message_gets_receipts_and_replies(client: httpx.AsyncClient) -> None:
    await post(client, [failing(n, 7) for n in ("ada", "bob", "cy")])
    await post(client, [failing("dee", 7, "TypeError"), failing("eve", 3)])
    hotspot = {
        "kind": "hotspot",
        "notebook": "lesson1.ipynb",
        "cellIndex": 7,
        "errorName": "NameError",
    }
    sent = await client.post(MESSAGES, json=message(hotspot, snippet="df = load()"))
    assert sent.status_code == 201, sent.text
    out = sent.json()
    assert out["audience"] == "NameError on cell 7 of lesson1.ipynb"
    assert out["receipts"] == {
        "recipients": 3,
        "delivered": 0,
        "seen": 0,
        "inserted": 0,
        "acknowledged": 0,
        "replied": 0,
    }
    assert out["snippet"] == "df = load()" and "<strong>df</strong>" in out["bodyHtml"]
    uid = out["id"]

    reply = answer("bob", "message_reply", uid, replyText="  thanks, fixed  ")
    await post(
        client,
        [answer("ada", "message_seen", uid), answer("ada", "message_inserted", uid), reply],
    )
    await post(client, [reply])  # resent by the student's server: stored once
    await post(client, [answer("cy", "message_acknowledged", uid)])
    # Not addressed to dee: her answer changes nothing.
    await post(client, [answer("dee", "message_seen", uid)])
    assert await receipts(client, uid) == {
        "recipients": 3,
        "delivered": 3,
        "seen": 3,
        "inserted": 1,
        "acknowledged": 1,
        "replied": 1,
    }
    detail = (await client.get(f"{MESSAGES}/detail", params={"id": uid})).json()
    by_student = {r["student"]: r for r in detail["recipients"]}
    assert set(by_student) == {"ada@example.org", "bob@example.org", "cy@example.org"}
    assert [r["text"] for r in by_student["bob@example.org"]["replies"]] == ["thanks, fixed"]
    assert by_student["ada@example.org"]["insertedAt"] is not None
    assert by_student["cy@example.org"]["acknowledgedAt"] is not None
    assert by_student["ada@example.org"]["replies"] == []


async def test_each_audience_resolves_to_the_students_the_dashboard_shows(
    client: httpx.AsyncClient,
) -> None:
    await post(
        client,
        [
            failing("ada", 2, teamName="red"),
            failing("ada", 2, teamName="red"),
            failing("ada", 2, teamName="red"),
            failing("bob", 2, teamName="blue"),
            student("cy", teamName="red", cellIndex=2, code="x = 1"),
        ],
    )

    async def recipients(audience: dict[str, Any]) -> set[str]:
        response = await client.post(MESSAGES, json=message(audience))
        assert response.status_code == 201, response.text
        uid = response.json()["id"]
        detail = (await client.get(f"{MESSAGES}/detail", params={"id": uid})).json()
        return {r["student"].split("@")[0] for r in detail["recipients"]}

    assert await recipients({"kind": "class"}) == {"ada", "bob", "cy"}
    assert await recipients({"kind": "team", "team": "red"}) == {"ada", "cy"}
    assert await recipients({"kind": "students", "students": ["bob@example.org"]}) == {"bob"}
    stuck = {"kind": "stuck", "notebook": "lesson1.ipynb", "cellIndex": 2}
    assert await recipients(stuck) == {"ada"}
    clusters = (
        await client.get("/api/v1/clusters", params={"notebook": "lesson1.ipynb", "cell": 2})
    ).json()["clusters"]
    ok = next(c for c in clusters if c["outcome"] == "ok")
    cluster = {
        "kind": "cluster",
        "notebook": "lesson1.ipynb",
        "cellIndex": 2,
        "fingerprint": ok["fingerprint"],
    }
    assert await recipients(cluster) == {"cy"}


def graded(name: str, passed: bool, **fields: Any) -> dict[str, Any]:
    """A run of q1's test cell (cell 3); the answer is cell 2."""
    return student(
        name,
        cellIndex=3,
        code="grader.check('q1')",
        hasError=not passed,
        errorName=None if passed else "AssertionError",
        tests=[{"question": "q1", "passed": passed, "kind": "otter"}],
        **fields,
    )


async def test_a_question_cluster_reaches_the_students_whose_answers_it_holds(
    client: httpx.AsyncClient,
) -> None:
    wrong = "def f(x):\n    return x + 1"
    await post(
        client,
        [
            student("ada", cellIndex=2, code=wrong),
            graded("ada", False),
            student("bob", cellIndex=2, code="def f(y):\n    return y+1  # one more"),
            graded("bob", False),
            student("cy", cellIndex=2, code="def f(x):\n    return x * 2"),
            graded("cy", True),
            student("dee", cellIndex=2, code=wrong),  # the same answer, never tested
        ],
    )
    view = (
        await client.get("/api/v1/clusters", params={"notebook": "lesson1.ipynb", "question": "q1"})
    ).json()
    failed = view["clusters"][0]
    assert failed["outcome"] == "test failed: AssertionError"
    audience = {
        "kind": "cluster",
        "notebook": "lesson1.ipynb",
        "question": "q1",
        "fingerprint": failed["fingerprint"],
    }
    sent = await client.post(MESSAGES, json=message(audience))
    assert sent.status_code == 201, sent.text
    assert sent.json()["audience"] == "a cluster of answers to question q1 of lesson1.ipynb"
    detail = (await client.get(f"{MESSAGES}/detail", params={"id": sent.json()["id"]})).json()
    assert sorted(r["student"] for r in detail["recipients"]) == [
        "ada@example.org",
        "bob@example.org",
    ]
    # A cluster of a cell's attempts by the same fingerprint is another cluster: cell 3's
    # runs are the test's own code.
    by_cell = {**audience, "question": None, "cellIndex": 3}
    gone = await client.post(MESSAGES, json=message(by_cell))
    assert gone.status_code == 422 and "no such cluster" in gone.text


@pytest.mark.parametrize(
    ("audience", "detail"),
    [
        ({"kind": "team", "team": "nobody"}, "nobody to send to"),
        ({"kind": "students", "students": ["ghost@example.org"]}, "no student 'ghost@example.org'"),
        ({"kind": "hotspot", "notebook": "lesson1.ipynb"}, "needs cellIndex, errorName"),
        ({"kind": "broadcast"}, "kind"),
        (
            {"kind": "cluster", "notebook": "n", "fingerprint": "f"},
            "needs cellIndex or question (one)",
        ),
        (
            {"kind": "cluster", "notebook": "n", "fingerprint": "f", "cellIndex": 1}
            | {"question": "q"},
            "needs cellIndex or question (one)",
        ),
    ],
)
async def test_an_audience_that_names_nobody_is_a_clear_error(
    client: httpx.AsyncClient, audience: dict[str, Any], detail: str
) -> None:
    await post(client, [student("ada")])
    response = await client.post(MESSAGES, json=message(audience))
    assert response.status_code == 422
    assert detail in response.text
    assert (await client.get(MESSAGES)).json()["items"] == []


async def test_a_resent_request_is_stored_once(client: httpx.AsyncClient) -> None:
    await post(client, [student("ada")])
    body = message({"kind": "class"})
    first = await client.post(MESSAGES, json=body)
    again = await client.post(MESSAGES, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len((await client.get(MESSAGES)).json()["items"]) == 1


async def test_markdown_reaches_the_dashboard_without_html(client: httpx.AsyncClient) -> None:
    await post(client, [student("ada")])
    hostile = '<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror="alert(1)">'
    out = (await client.post(MESSAGES, json=message({"kind": "class"}, body=hostile))).json()
    html = out["bodyHtml"]
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html and out["body"] == hostile


async def test_messages_need_an_instructor(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get(MESSAGES)).status_code == 401
    response = await anonymous.post(MESSAGES, json=message({"kind": "class"}))
    assert response.status_code == 401


async def test_dashboards_hear_of_sends_and_answers(server: str, client: httpx.AsyncClient) -> None:
    await post(client, [student("ada")])
    async with dashboard(server) as board:
        uid = (await client.post(MESSAGES, json=message({"kind": "class"}))).json()["id"]

        def changed(m: dict[str, Any]) -> bool:
            return m["type"] == "messages_changed" and uid in m["messageIds"]

        await board.wait_for(changed)
        count = sum(1 for m in board.messages if changed(m))
        await post(client, [answer("ada", "message_seen", uid)])
        await eventually(lambda: sum(1 for m in board.messages if changed(m)) > count)


async def test_sending_is_rate_limited_per_instructor(database_url: str, tmp_path: Path) -> None:
    settings: Settings = make_settings(database_url, tmp_path, messages_per_minute=2)
    async with live_server(settings) as url:
        headers = await sign_in(url)
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            await post(http, [student("ada")])
            codes = [
                (await http.post(MESSAGES, json=message({"kind": "class"}))).status_code
                for _ in range(3)
            ]
            assert codes == [201, 201, 429]
            refused = await http.post(MESSAGES, json=message({"kind": "class"}))
            assert int(refused.headers["Retry-After"]) >= 1
            assert len((await http.get(MESSAGES)).json()["items"]) == 2


async def test_a_student_may_reply_twenty_times_to_one_message(client: httpx.AsyncClient) -> None:
    await post(client, [student("ada")])
    uid = (await client.post(MESSAGES, json=message({"kind": "class"}))).json()["id"]
    replies = [answer("ada", "message_reply", uid, replyText=f"reply {i}") for i in range(22)]
    await post(client, replies)
    detail = (await client.get(f"{MESSAGES}/detail", params={"id": uid})).json()
    (ada,) = detail["recipients"]
    # One batch's replies are stored in no particular order: any 20 of them.
    texts = [r["text"] for r in ada["replies"]]
    assert len(texts) == len(set(texts)) == 20
    assert set(texts) <= {f"reply {i}" for i in range(22)}
    assert (await receipts(client, uid))["replied"] == 1
