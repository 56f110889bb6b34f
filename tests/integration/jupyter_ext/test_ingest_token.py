"""The server extension adds the ingest token server side; a real class server checks it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from cell_monitor.accounts import ingest_tokens
from cell_monitor.storage.engine import create_engine
from tests.integration.jupyter_ext.test_forwarding import post, status
from tests.integration.test_ingest_auth import tokens_enforced
from tests.support import event, eventually, live_server, make_settings, sign_in


async def test_events_carry_the_configured_token(
    jp_serverapp: Any, jp_fetch: Any, extension: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'class' / 'cell-monitor.sqlite3'}"
    settings = make_settings(url, tmp_path / "class", ingest_token_refresh_seconds=0.1)
    async with live_server(settings) as base:
        engine = create_engine(settings)
        try:
            _, token = await ingest_tokens.create_token(engine, "python-101")
        finally:
            await engine.dispose()
        async with httpx.AsyncClient(base_url=base) as anonymous:
            await tokens_enforced(anonymous)

        extension.server_url = base
        extension.ingest_token = token + "-wrong"
        sent = event()
        await post(jp_fetch, [sent])
        refused = await eventually(lambda: _error_mentioning(jp_fetch, "CELL_MONITOR_INGEST_TOKEN"))
        assert "403" in refused
        assert await extension.queue.length() == 1  # kept, not dropped

        extension.ingest_token = token
        headers = await sign_in(base)
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:

            async def stored() -> bool:
                page = (await client.get("/api/v1/events")).json()
                return sent["eventId"] in {item["eventId"] for item in page["items"]}

            await eventually(stored)
        assert await extension.queue.length() == 0
        # The token never reaches the browser: the status the page reads omits it.
        assert token not in json.dumps(await status(jp_fetch))


async def _error_mentioning(jp_fetch: Any, text: str) -> str | None:
    error = (await status(jp_fetch))["lastError"]
    return error if error and text in error else None
