"""Arbitrary JSON in every field of an event: never a 5xx, never a lost neighbour.

Hypothesis replaces fields of a valid event (every field of the contract, and
unknown ones) with arbitrary JSON values: huge and negative integers, floats,
text with NUL and lone surrogates, extreme times, nested lists and objects. Each
mutant is posted with a valid neighbour; the server must answer 202 and store
the neighbour, on SQLite and on PostgreSQL. The example count is bounded so a
backend takes well under a minute.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cell_monitor.config import Settings
from tests.support import event, query_sql

URL = "/api/v1/events"
EXAMPLES = 150

FIELDS = [
    "eventId",
    "eventType",
    "eventTime",
    "emailAddress",
    "userId",
    "userName",
    "teamName",
    "sessionId",
    "notebookPath",
    "cellId",
    "cellIndex",
    "cellType",
    "code",
    "executionCount",
    "hasError",
    "errorName",
    "errorMessage",
    "traceback",
    "result",
    "executionDurationMs",
    # unknown fields, kept as metadata
    "clientState",
    "_",
]

TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59.999999-14:00",
        "1999-12-31T23:59:59Z",
        "2000-01-01T00:00:00Z",
        "2024-02-30T10:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00+25:00",
        "1e400",
    ]
)
TEXT = st.text(st.characters(exclude_categories=()), max_size=20)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    TIMES,
    st.sampled_from(["", " ", "\x00", "markdown", "help", "cell_executed", "a/../b"]),
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
MUTATIONS = st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, min_size=1, max_size=4)
DEEP = st.integers(min_value=100, max_value=1500)


def body_of(mutant: dict[str, Any], depth: int | None, neighbour: dict[str, Any]) -> bytes:
    # ensure_ascii: lone surrogates go as \\udxxx escapes, as JavaScript writes them.
    text = json.dumps(mutant, ensure_ascii=True)
    if depth is not None:  # too deep for json.dumps: written by hand
        text = text[:-1] + (", " if mutant else "") + '"deep": ' + "[" * depth + "]" * depth + "}"
    return f"[{text}, {json.dumps(neighbour)}]".encode()


async def test_arbitrary_values_in_any_field(server: str, settings: Settings) -> None:
    neighbours: list[str] = []

    @settings_for_backend
    @given(mutations=MUTATIONS, depth=st.none() | DEEP)
    def post_mutant(mutations: dict[str, Any], depth: int | None) -> None:
        mutant = {**event(emailAddress="victim@example.org"), **mutations}
        neighbour = event(eventId=str(uuid.uuid4()), emailAddress="ada@example.org")
        response = http.post(URL, content=body_of(mutant, depth, neighbour), headers=JSON_HEADERS)
        assert response.status_code == 202, (response.status_code, response.text, mutant)
        result = response.json()
        assert result["accepted"] >= 1
        assert all(r["index"] == 0 and r["errors"] for r in result["rejected"]), result
        neighbours.append(neighbour["eventId"])

    # A blocking client in a thread: Hypothesis drives synchronous tests, and
    # the server runs on this event loop.
    with httpx.Client(base_url=server, timeout=30) as http:
        await asyncio.to_thread(post_mutant)
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        # The victim is not poisoned: its next event is stored.
        again = await client.post(URL, json=[event(emailAddress="victim@example.org")])
        assert again.status_code == 202 and again.json()["accepted"] == 1

    rows = await asyncio.to_thread(query_sql, settings.database_url, "SELECT event_id FROM events")
    assert set(neighbours) <= {row[0] for row in rows}
    assert len(neighbours) >= EXAMPLES // 2


JSON_HEADERS = {"content-type": "application/json"}
settings_for_backend = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
