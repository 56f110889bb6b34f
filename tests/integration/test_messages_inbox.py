"""What a student receives: their unseen messages for the inbox, their history, nobody else's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cell_monitor.broker.memory import MemoryBroker
from cell_monitor.config import Settings
from cell_monitor.messages.service import MessageService
from cell_monitor.storage.engine import create_engine
from tests.integration.test_messages import MESSAGES, answer, message, post, receipts, student


@pytest.fixture
async def service(settings: Settings, server: str) -> AsyncIterator[MessageService]:
    engine = create_engine(settings)
    yield MessageService(settings, engine, MemoryBroker())
    await engine.dispose()


async def send(client: httpx.AsyncClient, names: list[str], body: str, **fields: str) -> str:
    keys = [f"{n}@example.org" for n in names]
    audience = {"kind": "students", "students": keys}
    response = await client.post(MESSAGES, json=message(audience, body, **fields))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_the_inbox_holds_unseen_messages_first_to_last_and_only_the_students_own(
    client: httpx.AsyncClient, service: MessageService
) -> None:
    await post(client, [student("ada"), student("bob")])
    first = await send(client, ["ada", "bob"], "first")
    second = await send(client, ["ada"], "second *hint*", snippet="x = 1")
    await send(client, ["bob"], "only for bob")

    async with service.engine.connect() as conn:
        inbox = await service.inbox_part(conn, "ada@example.org")
    assert [m.id for m in inbox] == [first, second]
    assert inbox[1].body_html == "<p>second <em>hint</em></p>\n"
    assert inbox[1].snippet == "x = 1" and inbox[1].seen_at is None
    # Handed to Ada's Jupyter server: delivered, not yet seen.
    assert (await receipts(client, first))["delivered"] == 1
    assert (await receipts(client, second))["delivered"] == 1

    await post(client, [answer("ada", "message_seen", first)])
    async with service.engine.connect() as conn:
        assert [m.id for m in await service.inbox_part(conn, "ada@example.org")] == [second]
        assert await service.inbox_part(conn, "nobody@example.org") == []
    # A second delivery changes nothing.
    assert (await receipts(client, second))["delivered"] == 1


async def test_the_history_is_newest_first_with_what_the_student_did(
    client: httpx.AsyncClient, service: MessageService
) -> None:
    await post(client, [student("ada"), student("bob")])
    first = await send(client, ["ada"], "first")
    second = await send(client, ["ada", "bob"], "second")
    await post(
        client,
        [
            answer("ada", "message_acknowledged", first),
            answer("ada", "message_reply", second, replyText="why?"),
            answer("bob", "message_reply", second, replyText="bob's own"),
        ],
    )
    history = await service.history("ada@example.org", 100)
    assert [m.id for m in history] == [second, first]
    assert [r.text for r in history[0].replies] == ["why?"]
    assert history[1].acknowledged_at is not None and history[1].seen_at is not None
    assert (await receipts(client, first))["delivered"] == 1
    wire = history[0].model_dump(mode="json", by_alias=True)
    assert set(wire) == {
        "id",
        "sentAt",
        "sender",
        "bodyHtml",
        "snippet",
        "seenAt",
        "insertedAt",
        "acknowledgedAt",
        "replies",
    }
