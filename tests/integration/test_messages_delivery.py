"""Messages through the student's inbox: long-poll wakeups, once per message, only their own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from cell_monitor.config import Settings
from cell_monitor.privacy.pseudonyms import is_pseudonym
from tests.integration.test_help_inbox import bearer, classroom, inbox, send
from tests.integration.test_messages import MESSAGES, message
from tests.support import event, eventually, live_server, make_settings, query_sql


def seen(kind: str, uid: str, **fields: Any) -> dict[str, Any]:
    return event(eventType=kind, messageId=uid, code=None, cellType=None, result=None, **fields)


async def test_a_send_wakes_the_students_long_poll_and_seen_empties_it(settings: Settings) -> None:
    async with classroom(settings) as room:
        for student in ("ada", "grace"):
            await send(room.http, room.keys[student], event())
        ada, grace = room.keys["ada"], room.keys["grace"]
        before = await inbox(room.http, ada)
        assert before["messages"] == []
        waiting = asyncio.create_task(inbox(room.http, ada, since=before["etag"], wait=20))
        audience = {"kind": "students", "students": ["ada"]}
        sent = await room.staff.post(MESSAGES, json=message(audience, "Look at *cell 3*"))
        assert sent.status_code == 201, sent.text
        uid = sent.json()["id"]
        woken = await asyncio.wait_for(waiting, 20)
        assert [m["id"] for m in woken["messages"]] == [uid]
        assert woken["messages"][0]["bodyHtml"] == "<p>Look at <em>cell 3</em></p>\n"
        # Grace was not addressed: nothing of Ada's reaches her.
        assert (await inbox(room.http, grace))["messages"] == []

        await send(room.http, ada, seen("message_seen", uid))
        after = await inbox(room.http, ada)
        assert after["messages"] == [] and after["etag"] != woken["etag"]
        history = await room.http.get("/api/v1/student/messages", headers=bearer(ada))
        (item,) = history.json()["items"]
        assert item["id"] == uid and item["seenAt"] is not None
        empty = await room.http.get("/api/v1/student/messages", headers=bearer(grace))
        assert empty.json()["items"] == []
        detail = await room.staff.get(f"{MESSAGES}/detail", params={"id": uid})
        (receipt,) = detail.json()["recipients"]
        assert receipt["deliveredAt"] is not None and receipt["seenAt"] is not None


async def test_the_history_needs_a_verified_student(settings: Settings) -> None:
    async with classroom(settings) as room:
        anonymous = await room.http.get("/api/v1/student/messages")
        assert anonymous.status_code == 401
        course = await room.http.get("/api/v1/student/messages", headers=bearer(room.course))
        assert course.status_code == 403
        assert "verified student" in course.json()["detail"]
        forged = await room.http.get("/api/v1/student/messages", headers=bearer("cms_forged"))
        assert forged.status_code == 403


async def test_a_student_offline_during_the_send_gets_it_when_back(settings: Settings) -> None:
    async with classroom(settings) as room:
        await send(room.http, room.keys["ada"], event())
        uids = []
        for body in ("first", "second"):
            sent = await room.staff.post(MESSAGES, json=message({"kind": "class"}, body))
            uids.append(sent.json()["id"])
        # Ada's Jupyter server comes back with no etag: both, first to last, once each.
        back = await inbox(room.http, room.keys["ada"])
        assert [m["id"] for m in back["messages"]] == uids
        again = await inbox(room.http, room.keys["ada"], since=back["etag"], wait=0)
        assert again["etag"] == back["etag"]

        async def delivered() -> bool:
            items = (await room.staff.get(MESSAGES)).json()["items"]
            return all(i["receipts"]["delivered"] == 1 for i in items)

        # Deliveries are written in batches, a moment after the answer.
        await eventually(delivered, what="both messages marked delivered")


async def test_messages_survive_a_class_server_restart(settings: Settings) -> None:
    async with classroom(settings) as room:
        await send(room.http, room.keys["ada"], event())
        sent = await room.staff.post(MESSAGES, json=message({"kind": "class"}, "kept"))
        uid = sent.json()["id"]
        credential = room.keys["ada"]
    # classroom() stopped its server; another one on the same database.
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/api/v1/student/inbox", headers=bearer(credential))
        assert [m["id"] for m in response.json()["messages"]] == [uid]


async def test_with_pseudonyms_messages_reach_the_student_and_store_no_identity(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, pseudonymize=True, pseudonym_key="k" * 32)
    async with classroom(settings) as room:
        await send(room.http, room.keys["ada"], event(emailAddress="ada", userId="ada"))
        students = (await room.staff.get("/api/v1/students")).json()["items"]
        (alias,) = [s["student"] for s in students]
        assert is_pseudonym(alias)
        audience = {"kind": "students", "students": [alias]}
        sent = await room.staff.post(MESSAGES, json=message(audience, "for ada"))
        uid = sent.json()["id"]
        mine = await inbox(room.http, room.keys["ada"])
        assert [m["id"] for m in mine["messages"]] == [uid]
        await send(room.http, room.keys["ada"], seen("message_reply", uid, replyText="ok"))
        detail = (await room.staff.get(f"{MESSAGES}/detail", params={"id": uid})).json()
        assert [r["student"] for r in detail["recipients"]] == [alias], detail
        assert detail["message"]["receipts"]["replied"] == 1, detail
    for table in ("messages", "message_recipients", "message_replies"):
        rows = await asyncio.to_thread(query_sql, database_url, f"SELECT * FROM {table}")
        values = {str(v) for row in rows for v in row}
        # No field is the identity (ids are random hex: "ada" may occur inside one).
        assert rows and "ada" not in values and not any("ada@" in v for v in values), rows
