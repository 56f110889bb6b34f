"""Ingest tokens on POST /api/v1/events, and the per-token (or per-address) rate limit."""

from __future__ import annotations

import asyncio

import httpx

from cell_monitor.accounts import ingest_tokens
from cell_monitor.config import Settings
from cell_monitor.storage.engine import create_engine
from tests.integration.test_health_metrics import value
from tests.support import event, eventually, live_server

URL = "/api/v1/events"


async def answered(
    http: httpx.AsyncClient, status: int, headers: dict[str, str] | None = None
) -> httpx.Response | None:
    """POST one event; the response when it has `status`, else None (to poll with)."""
    response = await http.post(URL, json=[event()], headers=headers)
    return response if response.status_code == status else None


async def tokens_enforced(http: httpx.AsyncClient) -> None:
    """Wait until the server's token cache has reloaded and knows a token exists.

    A request without a token then gets 401; the check runs before the rate
    limit, so polling spends no one's budget.
    """
    await eventually(lambda: answered(http, 401), what="the token cache to reload")


async def test_events_need_a_valid_token_once_one_exists(settings: Settings) -> None:
    fast = settings.model_copy(update={"ingest_token_refresh_seconds": 0.1})
    engine = create_engine(fast)
    try:
        async with live_server(fast) as url, httpx.AsyncClient(base_url=url) as http:
            # No token created yet: ingest is open (a single machine's first start).
            assert (await http.post(URL, json=[event()])).status_code == 202
            token_id, token = await ingest_tokens.create_token(engine, "python-101")
            other_id, other = await ingest_tokens.create_token(engine, "python-102")
            await tokens_enforced(http)

            def bearer(value: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {value}"}

            before = (await http.get("/metrics")).text
            missing = await http.post(URL, json=[event()])
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
            malformed = await http.post(URL, json=[event()], headers={"Authorization": token})
            assert malformed.status_code == 401
            wrong = await http.post(URL, json=[event()], headers=bearer(token + "x"))
            assert wrong.status_code == 403
            for value_ in (token, other):
                assert (
                    await http.post(URL, json=[event()], headers=bearer(value_))
                ).status_code == 202

            assert await ingest_tokens.revoke_token(engine, token_id)
            assert not await ingest_tokens.revoke_token(engine, token_id)
            revoked = await eventually(lambda: answered(http, 403, bearer(token)))
            assert "revoked" in revoked.json()["detail"]
            assert (await http.post(URL, json=[event()], headers=bearer(other))).status_code == 202

            # With every token revoked, ingest stays closed (it does not fall open).
            await ingest_tokens.revoke_token(engine, other_id)
            await eventually(lambda: answered(http, 403, bearer(other)))
            assert (await http.post(URL, json=[event()])).status_code == 401

            after = (await http.get("/metrics")).text
            for reason, count in (("missing", 2), ("malformed", 1), ("invalid", 1), ("revoked", 2)):
                name = "ingest_auth_failures_total"
                grown = value(after, name, reason=reason) - value(before, name, reason=reason)
                assert grown == count, reason
        listed = await ingest_tokens.list_tokens(engine)
        assert [(t.course, t.revoked_at is not None) for t in listed] == [
            ("python-101", True),
            ("python-102", True),
        ]
    finally:
        await engine.dispose()


async def test_tokens_are_stored_as_hashes_only(settings: Settings) -> None:
    from tests.support import query_sql

    engine = create_engine(settings)
    try:
        _, token = await ingest_tokens.create_token(engine, "course")
    finally:
        await engine.dispose()
    statement = "SELECT token_hash, course FROM ingest_tokens"
    rows = await asyncio.to_thread(query_sql, settings.database_url or "", statement)
    assert rows == [(ingest_tokens.digest(token), "course")]
    assert token not in repr(rows)


async def test_request_rate_is_limited_per_token_or_address(settings: Settings) -> None:
    limited = settings.model_copy(
        update={
            "ingest_rate_per_second": 0.5,
            "ingest_burst": 3,
            "ingest_token_refresh_seconds": 0.1,
        }
    )
    async with live_server(limited) as url, httpx.AsyncClient(base_url=url) as http:
        statuses = [(await http.post(URL, json=[event()])).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]
        refused = await http.post(URL, json=[event()])
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert "CELL_MONITOR_INGEST_RATE_PER_SECOND" in refused.json()["detail"]
        assert value((await http.get("/metrics")).text, "rate_limited_total", limit="ingest") >= 2

        # A token has its own budget, apart from the address's.
        engine = create_engine(limited)
        try:
            _, token = await ingest_tokens.create_token(engine, "c")
        finally:
            await engine.dispose()
        await tokens_enforced(http)
        headers = {"Authorization": f"Bearer {token}"}
        with_token = [
            (await http.post(URL, json=[event()], headers=headers)).status_code for _ in range(4)
        ]
        assert with_token == [202, 202, 202, 429]


async def test_rate_limit_off(settings: Settings) -> None:
    unlimited = settings.model_copy(update={"ingest_rate_per_second": 0, "ingest_burst": 1})
    async with live_server(unlimited) as url, httpx.AsyncClient(base_url=url) as http:
        statuses = await asyncio.gather(*(http.post(URL, json=[event()]) for _ in range(20)))
        assert {r.status_code for r in statuses} == {202}
