"""POST /api/v1/events against a real server and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from cell_monitor.config import Settings
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.models import CellExecution, Event, Student
from tests.support import event, live_server, make_settings

URL = "/api/v1/events"


async def count_rows(settings: Settings, model: type) -> int:
    """Count through a separate engine: what a 2xx promised is really committed."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())
    finally:
        await engine.dispose()


async def test_valid_events_survive_invalid_neighbours(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    good = [event(), event(eventType="notebook_opened"), event(eventType="help")]
    body = [good[0], {"eventType": "cell_executed"}, good[1], 7, event(cellIndex=-3), good[2]]
    response = await client.post(URL, json=body)
    assert response.status_code == 202
    result = response.json()
    assert result["accepted"] == 3 and result["duplicates"] == 0
    assert [r["index"] for r in result["rejected"]] == [1, 3, 4]
    assert result["rejected"][2]["eventId"] == body[4]["eventId"]
    assert all(r["errors"] for r in result["rejected"])
    assert await count_rows(settings, Event) == 3
    assert await count_rows(settings, CellExecution) == 1


async def test_single_object_body(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json=event(eventType="notebook_saved"))
    assert response.status_code == 202
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    "body",
    [b"[", b"42", b"[]", b'[{"eventType": "help"}]', b'[1, "x"]'],
    ids=["malformed", "number", "empty", "all-invalid", "not-objects"],
)
async def test_nothing_usable_is_422(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["accepted"] == 0
    assert response.json()["detail"]


async def test_resent_event_is_stored_once(client: httpx.AsyncClient, settings: Settings) -> None:
    batch = [event() for _ in range(5)]
    first = (await client.post(URL, json=batch)).json()
    again = (await client.post(URL, json=[*batch[2:], event()])).json()
    assert (first["accepted"], first["duplicates"]) == (5, 0)
    assert (again["accepted"], again["duplicates"]) == (1, 3)
    within = (await client.post(URL, json=[batch[0], batch[0]])).json()
    assert (within["accepted"], within["duplicates"]) == (0, 2)
    repeated = event()
    both = (await client.post(URL, json=[repeated, repeated])).json()
    assert (both["accepted"], both["duplicates"]) == (1, 1)
    assert await count_rows(settings, Event) == 7
    students = (await client.get("/api/v1/students")).json()["items"]
    assert students[0]["events"] == 7  # counters count stored events, not deliveries


async def test_concurrent_copies_are_stored_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    batch = [event() for _ in range(10)]
    responses = await asyncio.gather(*(client.post(URL, json=batch) for _ in range(12)))
    results = [r.json() for r in responses]
    assert all(r.status_code == 202 for r in responses)
    assert sum(r["accepted"] for r in results) == 10
    assert sum(r["duplicates"] for r in results) == 110
    assert await count_rows(settings, Event) == 10


async def test_concurrent_requests_share_commits(client: httpx.AsyncClient) -> None:
    """Group commit: 40 concurrent single-event requests need fewer than 40 transactions."""

    def commits(text: str) -> float:
        for line in text.splitlines():
            if line.startswith("commit_group_events_count "):
                return float(line.split()[1])
        return 0.0

    before = commits((await client.get("/metrics")).text)
    responses = await asyncio.gather(*(client.post(URL, json=[event()]) for _ in range(40)))
    assert all(r.json()["accepted"] == 1 for r in responses)
    used = commits((await client.get("/metrics")).text) - before
    assert 1 <= used < 40


async def test_concurrent_large_batches_and_unusable_ones_all_get_answers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Concurrent batches share commits: one that fails its parse (not JSON,
    nothing valid) costs only itself, and every valid one is stored once."""
    batches = [[event(emailAddress=f"s{n % 7}@example.org") for _ in range(30)] for n in range(12)]
    padding = "x" * 16_384  # as large as a batch
    unusable = [
        b"[" + padding.encode(),  # not JSON
        ('[{"eventType": "cell_executed", "code": "' + padding + '"}]').encode(),  # no valid event
    ]
    posts = [client.post(URL, json=batch) for batch in batches]
    posts[3:3] = [client.post(URL, content=body) for body in unusable]
    responses = await asyncio.wait_for(asyncio.gather(*posts), timeout=60)
    codes = [r.status_code for r in responses]
    assert codes == [202] * 3 + [422, 422] + [202] * 9
    assert sum(r.json()["accepted"] for r in responses if r.status_code == 202) == 12 * 30
    assert await count_rows(settings, Event) == 12 * 30


@pytest.fixture
async def small_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    limited = settings.model_copy(update={"max_body_bytes": 4096, "max_events_per_request": 5})
    async with live_server(limited) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def test_limits_give_413(small_client: httpx.AsyncClient) -> None:
    too_many = await small_client.post(URL, json=[event() for _ in range(6)])
    assert too_many.status_code == 413
    assert "CELL_MONITOR_MAX_EVENTS_PER_REQUEST" in too_many.json()["detail"]
    big = [event(code="x" * 5000)]
    too_big = await small_client.post(URL, json=big)
    assert too_big.status_code == 413
    assert "CELL_MONITOR_MAX_BODY_BYTES" in too_big.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold while streaming too.
        yield b'[{"eventType": "help", "userId": "u", "code": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}]'

    streamed = await small_client.post(URL, content=chunks())
    assert streamed.status_code == 413
    assert (await small_client.post(URL, json=[event() for _ in range(5)])).status_code == 202


async def test_long_text_is_truncated_not_rejected(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    long_code = "print('x')\n" * 10_000  # 110,000 chars > the 65,536 default
    sent = event(code=long_code, result="r" * 50_000)
    result = (await client.post(URL, json=[sent])).json()
    assert (result["accepted"], result["truncated"]) == (1, 1)
    stored = (await client.get(URL)).json()["items"][0]
    assert stored["truncated"] is True
    assert stored["code"].startswith(long_code[: settings.max_code_chars])
    assert stored["code"].endswith("[truncated by cell-monitor]")
    assert len(stored["result"]) < 20_000


async def test_unknown_fields_and_odd_text_are_stored(client: httpx.AsyncClient) -> None:
    sent = event(code="print('\x00é😀')", kernelName="python3", nested={"a": [1, 2]})
    assert (await client.post(URL, json=[sent])).json()["accepted"] == 1
    stored = (await client.get(URL)).json()["items"][0]
    assert stored["code"] == "print('é😀')"
    assert stored["metadata"] == {"kernelName": "python3", "nested": {"a": [1, 2]}}


async def test_event_without_id_or_time_gets_them(client: httpx.AsyncClient) -> None:
    sent = event(eventId=None, eventTime=None, emailAddress=None, userId="hub-user-7")
    assert (await client.post(URL, json=[sent])).json()["accepted"] == 1
    stored = (await client.get(URL)).json()["items"][0]
    uuid.UUID(stored["eventId"])
    assert stored["student"] == "hub-user-7"


async def test_a_row_the_database_refuses_fails_alone(
    backend: str, database_url: str, settings: Settings
) -> None:
    """An event the database itself refuses does not take its batch or group with it."""
    engine = create_engine(settings)
    async with engine.begin() as conn:
        if backend == "sqlite":
            await conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.event_type = 'poison' "
                "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
            )
        else:
            await conn.exec_driver_sql(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.event_type = 'poison' THEN "
                "RAISE EXCEPTION 'poison refused' USING ERRCODE = '22023'; END IF; "
                "RETURN NEW; END $$"
            )
            await conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON events "
                "FOR EACH ROW EXECUTE FUNCTION poison()"
            )
    await engine.dispose()
    async with live_server(settings) as url, httpx.AsyncClient(base_url=url) as http:
        neighbours = [event() for _ in range(20)]
        mixed = [event(), event(eventType="poison"), event()]
        responses = await asyncio.gather(
            http.post(URL, json=mixed), *(http.post(URL, json=[e]) for e in neighbours)
        )
        first = responses[0].json()
        assert responses[0].status_code == 202
        assert (first["accepted"], [r["index"] for r in first["rejected"]]) == (2, [1])
        reason = first["rejected"][0]["errors"][0]
        assert reason.startswith("the database refused this event: ")
        # The database's own message (its internals) stays in the server, out of the answer.
        assert "poison" not in reason
        assert all(r.json()["accepted"] == 1 for r in responses[1:])
    assert await count_rows(settings, Event) == 22
    assert await count_rows(settings, Student) == 1


async def test_cors_allows_only_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = {"access-control-request-method": "POST"}
    allowed = await client.options(URL, headers={"origin": "http://localhost:8888", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8888"
    assert "access-control-allow-credentials" not in allowed.headers
    denied = await client.options(URL, headers={"origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in denied.headers


async def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(f"sqlite:///{tmp_path / 'w.sqlite3'}", tmp_path)
    engine = create_engine(settings)
    async with engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2  # FULL
    await engine.dispose()


async def test_the_ingest_route_answers_as_every_route_does(client: httpx.AsyncClient) -> None:
    # POST is served by a plain route matched before FastAPI's (see HotRoute):
    # the same answer, headers and schema, and other methods reach their own routes.
    response = await client.post(URL, json=event())
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "truncated": 0,
        "clockAdjusted": 0,
        "rejected": [],
    }
    listed = await client.get(URL)  # the instructors' read of stored events
    assert listed.status_code == 200 and listed.json()["items"]
    schema = (await client.get("/openapi.json")).json()
    assert "post" in schema["paths"][URL]
