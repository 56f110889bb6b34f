"""Messages across server workers (two processes, real Redis, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard_client import dashboard
from tests.integration.test_messages import EVENTS, MESSAGES, answer, failing, message
from tests.support import ServerProcess, eventually, sign_in, two_workers


@pytest.fixture
def two_servers(
    database_url: str, redis_url: str, channel: str, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELL_MONITOR_REDIS_CHANNEL": channel,
        "CELL_MONITOR_DATA_DIR": str(tmp_path),
        "CELL_MONITOR_MESSAGES_PER_MINUTE": "3",
    }
    with two_workers(env) as pair:
        yield pair


async def test_a_send_on_one_worker_and_answers_on_another_reach_every_dashboard(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    async with (
        dashboard(b.url) as on_b,
        httpx.AsyncClient(headers=await sign_in(a.url), timeout=30) as http,
    ):
        stored = await http.post(a.url + EVENTS, json=[failing(n, 7) for n in ("ada", "bob")])
        assert stored.json()["accepted"] == 2
        hotspot = {
            "kind": "hotspot",
            "notebook": "lesson1.ipynb",
            "cellIndex": 7,
            "errorName": "NameError",
        }
        body = message(hotspot, snippet="df = load()")
        sent = await http.post(a.url + MESSAGES, json=body)
        assert sent.status_code == 201, sent.text
        uid = sent.json()["id"]
        # The same request resent to the other worker: stored once.
        again = await http.post(b.url + MESSAGES, json=body)
        assert (again.status_code, again.json()["id"]) == (200, uid)

        def changed(m: dict[str, Any]) -> bool:
            return m["type"] == "messages_changed" and uid in m["messageIds"]

        await on_b.wait_for(changed)
        inserted = answer("ada", "message_inserted", uid)
        assert (await http.post(b.url + EVENTS, json=[inserted])).json()["accepted"] == 1

        async def inserted_by_one() -> bool:
            (item,) = (await http.get(a.url + MESSAGES, params={"ids": uid})).json()["items"]
            return bool(item["receipts"]["inserted"] == 1 and item["receipts"]["seen"] == 1)

        await eventually(inserted_by_one, what="the receipt on the other worker")
        assert sum(1 for m in on_b.messages if changed(m)) >= 2


async def test_the_rate_limit_holds_across_workers(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    async with httpx.AsyncClient(headers=await sign_in(a.url), timeout=30) as http:
        await http.post(a.url + EVENTS, json=[failing("ada", 1)])
        codes = [
            (await http.post(url + MESSAGES, json=message({"kind": "class"}))).status_code
            for url in (a.url, b.url, a.url, b.url)
        ]
        assert codes == [201, 201, 201, 429]
