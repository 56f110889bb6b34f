"""Messages are student data: in the export, gone with an erasure, pruned by retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.privacy.erasure import erase_from_database
from cell_monitor.privacy.export import export_student
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.retention import prune
from tests.integration.test_messages import MESSAGES, answer, message, post, student


@pytest.fixture
async def engine(settings: Settings, server: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def send(client: httpx.AsyncClient, students: list[str], body: str) -> str:
    keys = [f"{name}@example.org" for name in students]
    response = await client.post(
        MESSAGES, json=message({"kind": "students", "students": keys}, body)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_export_holds_the_messages_receipts_and_replies(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await post(client, [student("ada"), student("bob")])
    to_both = await send(client, ["ada", "bob"], "Look at cell 3")
    await send(client, ["bob"], "Bob only")
    await post(client, [answer("ada", "message_reply", to_both, replyText="on it")])
    data = await export_student(engine, ["ada@example.org"])
    assert [m["body"] for m in data["messages"]] == ["Look at cell 3"]
    (receipt,) = data["messageReceipts"]
    assert receipt["seen_at"] is not None and receipt["replies"] == 1
    assert [r["text"] for r in data["messageReplies"]] == ["on it"]


async def test_erasure_removes_their_receipts_replies_and_messages_to_them_alone(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await post(client, [student("ada"), student("bob")])
    to_both = await send(client, ["ada", "bob"], "Look at cell 3")
    to_ada = await send(client, ["ada"], "Ada, your loop never ends")
    await post(client, [answer("ada", "message_reply", to_both, replyText="on it")])
    _, counts = await erase_from_database(engine, ["ada@example.org"])
    assert counts["message_replies"] == 1
    assert counts["message_recipients"] == 2
    assert counts["messages"] == 1  # the one to Ada alone; Bob keeps his
    items = (await client.get(MESSAGES)).json()["items"]
    assert [i["id"] for i in items] == [to_both]
    assert items[0]["receipts"]["recipients"] == 1 and items[0]["receipts"]["replied"] == 0
    missing = await client.get(f"{MESSAGES}/detail", params={"id": to_ada})
    assert missing.status_code == 404
    assert (await export_student(engine, ["ada@example.org"]))["messageReplies"] == []


async def test_retention_prunes_old_messages_with_receipts_and_replies(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    await post(client, [student("ada")])
    uid = await send(client, ["ada"], "An old hint")
    await post(client, [answer("ada", "message_reply", uid, replyText="thanks")])
    now = datetime.now(timezone.utc)
    kept = await prune(engine, settings, timedelta(days=1), now=now)
    assert (kept.messages, kept.message_receipts, kept.message_replies) == (0, 0, 0)
    later = now + timedelta(days=2)
    dry = await prune(engine, settings, timedelta(days=1), now=later, dry_run=True)
    assert (dry.messages, dry.message_receipts, dry.message_replies) == (1, 1, 1)
    report = await prune(engine, settings, timedelta(days=1), now=later)
    assert (report.messages, report.message_receipts, report.message_replies) == (1, 1, 1)
    assert "messages: 1 (receipts: 1, replies: 1)" in "\n".join(report.lines())
    assert (await client.get(MESSAGES)).json()["items"] == []
