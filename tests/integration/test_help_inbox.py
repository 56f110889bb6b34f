"""Help requests as one server-side truth, seen by the student through the inbox long-poll."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cell_monitor.accounts import ingest_tokens, users
from cell_monitor.accounts.ingest_tokens import RosterEntry
from cell_monitor.config import Settings
from cell_monitor.inbox.parts import InboxParts
from cell_monitor.privacy.pseudonyms import key_of, pseudonym
from cell_monitor.storage.engine import create_engine
from tests.integration.test_health_metrics import value
from tests.support import event, eventually, instructor_client, live_server, sign_in

INBOX = "/api/v1/student/inbox"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def help_event(kind: str = "help", ask: str | None = None, **fields: Any) -> dict[str, Any]:
    body = event(eventType=kind, code=None, cellType=None, result=None, **fields)
    if ask is not None:
        body["helpRequestId"] = ask
    return body


@dataclass
class Classroom:
    http: httpx.AsyncClient  # the students' side (sends their credentials)
    staff: httpx.AsyncClient  # signed in as the test instructor
    keys: dict[str, str]  # student -> per-student credential
    course: str  # a course token


@asynccontextmanager
async def classroom(settings: Settings) -> AsyncIterator[Classroom]:
    """A server with per-student credentials for ada and grace, and a course token."""
    engine = create_engine(settings)
    try:
        roster = [RosterEntry("ada", "Ada", "red"), RosterEntry("grace", "Grace", "blue")]
        created = await ingest_tokens.create_student_credentials(engine, roster, "python-101")
        _, course = await ingest_tokens.create_token(engine, "python-101")
    finally:
        await engine.dispose()
    credentials = {key: secret for _, key, secret in created}
    async with (
        live_server(settings) as url,
        instructor_client(url) as staff,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield Classroom(http, staff, credentials, course)


async def inbox(http: httpx.AsyncClient, token: str, since: str | None = None, wait: float = 0):
    params: dict[str, Any] = {"wait": wait}
    if since is not None:
        params["since"] = since
    response = await http.get(INBOX, params=params, headers=bearer(token), timeout=wait + 30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["etag"] == f'"{body["etag"]}"'
    return body


async def held(http: httpx.AsyncClient, count: int = 1) -> None:
    """Until `count` long-polls are held (the gauge is this process's: all its servers)."""

    async def holding() -> bool:
        return value((await http.get("/metrics")).text, "inbox_waiting_polls") >= count

    await eventually(holding, what=f"{count} long-poll(s) to be held")


async def send(http: httpx.AsyncClient, token: str, *events: dict[str, Any]) -> None:
    response = await http.post("/api/v1/events", json=list(events), headers=bearer(token))
    assert response.status_code == 202 and response.json()["accepted"] == len(events)


async def test_the_student_sees_every_change_of_their_request(settings: Settings) -> None:
    async with classroom(settings) as room:
        http, staff, keys, course = room.http, room.staff, room.keys, room.course
        refused = await http.get(INBOX, headers=bearer(course))
        assert refused.status_code == 403 and "per-student credential" in refused.text
        assert (await http.get(INBOX)).status_code == 401

        first = await inbox(http, keys["ada"])
        assert first["help"] is None and first["messages"] == []
        # A long-poll held with the current etag answers when the request opens.
        polling = asyncio.create_task(inbox(http, keys["ada"], first["etag"], wait=20))
        await held(http)
        ask = str(uuid.uuid4())
        await send(http, keys["ada"], help_event(ask=ask))
        opened = await asyncio.wait_for(polling, 20)
        assert opened["help"]["state"] == "open"
        assert opened["help"]["position"] == 1 and opened["help"]["helpRequestId"] == ask
        assert opened["etag"] != first["etag"]
        # Unchanged: the same etag after the wait.
        again = await inbox(http, keys["ada"], opened["etag"], wait=0.2)
        assert again["etag"] == opened["etag"]

        await send(http, keys["grace"], help_event(ask=str(uuid.uuid4())))
        grace = await inbox(http, keys["grace"])
        assert grace["help"]["position"] == 2

        # Grace behind her changes nothing for ada.
        ada = await inbox(http, keys["ada"], opened["etag"], wait=0.2)
        assert ada == opened
        # Claiming ada moves grace up: both long-polls answer.
        ada_poll = asyncio.create_task(inbox(http, keys["ada"], ada["etag"], wait=20))
        grace_poll = asyncio.create_task(inbox(http, keys["grace"], grace["etag"], wait=20))
        await held(http, 2)
        claim = await staff.post("/api/v1/help/claim", params={"student": "ada"})
        assert claim.status_code == 200, claim.text
        assert claim.json()["helpClaimedBy"] == "admin (instructor)"
        claimed = (await asyncio.wait_for(ada_poll, 20))["help"]
        assert claimed["state"] == "claimed" and claimed["claimedBy"] == "admin (instructor)"
        assert claimed["position"] is None
        assert (await asyncio.wait_for(grace_poll, 20))["help"]["position"] == 1

        queue = (await staff.get("/api/v1/help/queue")).json()["requests"]
        assert [(r["student"], r["state"], r["position"]) for r in queue] == [
            ("ada", "claimed", None),
            ("grace", "open", 1),
        ]
        assert queue[0]["mine"] and not queue[1]["mine"]

        # Another instructor's claim is refused unless taken over.
        conflict = await staff.post("/api/v1/help/claim", params={"student": "nobody"})
        assert conflict.status_code == 404

        # The student ends it after someone came: resolved.
        await send(http, keys["ada"], help_event("help_stop", ask=ask))
        resolved = await inbox(http, keys["ada"])
        assert resolved["help"]["state"] == "resolved"
        assert resolved["help"]["closedAt"] is not None


async def test_a_dismissed_request_stays_closed_until_the_student_asks_again(
    settings: Settings,
) -> None:
    async with classroom(settings) as room:
        http, staff, keys = room.http, room.staff, room.keys
        ask = str(uuid.uuid4())
        await send(http, keys["grace"], help_event(ask=ask))
        before = await inbox(http, keys["grace"])
        polling = asyncio.create_task(inbox(http, keys["grace"], before["etag"], wait=20))
        await held(http)
        dismissed = await staff.post("/api/v1/help/dismiss", params={"student": "grace"})
        assert dismissed.status_code == 200 and dismissed.json()["helpSince"] is None
        closed = (await asyncio.wait_for(polling, 20))["help"]
        assert closed["state"] == "dismissed"

        # A resend of the same ask (another tab, a retry) does not reopen it...
        await send(http, keys["grace"], help_event(ask=ask))
        assert (await inbox(http, keys["grace"]))["help"]["state"] == "dismissed"
        live = (await staff.get("/api/v1/live")).json()["students"]
        assert [s["helpSince"] for s in live if s["student"] == "grace"] == [None]
        # ...asking again does, at once, as a new request.
        await send(http, keys["grace"], help_event(ask=str(uuid.uuid4())))
        reopened = (await inbox(http, keys["grace"]))["help"]
        assert reopened["state"] == "open" and reopened["id"] != closed["id"]
        # Withdrawn before anyone came.
        await send(http, keys["grace"], help_event("help_stop"))
        assert (await inbox(http, keys["grace"]))["help"]["state"] == "withdrawn"


async def test_the_reference_extensions_help_events_open_requests(settings: Settings) -> None:
    """Its `help` (resent every ~10 s, no request id) and `help_stop` drive the same state."""
    async with (
        live_server(settings) as url,
        instructor_client(url) as staff,
        httpx.AsyncClient(base_url=url) as http,
    ):
        # No credential at all: the reference extension sends none (open ingest).
        reference = {"emailAddress": "lin@example.org", "userName": "Lin", "teamName": ""}
        first = help_event(**reference)
        resend = help_event(**reference)
        response = await http.post("/api/v1/events", json=[first, resend])
        assert response.status_code == 202
        queue = (await staff.get("/api/v1/help/queue")).json()["requests"]
        assert [(r["student"], r["state"]) for r in queue] == [("lin@example.org", "open")]
        await http.post("/api/v1/events", json=[help_event("help_stop", **reference)])
        assert (await staff.get("/api/v1/help/queue")).json()["requests"] == []


async def test_claims_need_an_open_request_and_respect_another_claim(settings: Settings) -> None:
    async with classroom(settings) as room:
        http, staff, keys = room.http, room.staff, room.keys
        await send(http, keys["ada"], event(emailAddress=None, userId="ada"))
        no_request = await staff.post("/api/v1/help/claim", params={"student": "ada"})
        assert no_request.status_code == 409 and "no open help request" in no_request.text
        await send(http, keys["ada"], help_event())
        assert (await staff.post("/api/v1/help/claim", params={"student": "ada"})).is_success
        # Claiming again is a no-op; releasing puts it back in line.
        assert (await staff.post("/api/v1/help/claim", params={"student": "ada"})).is_success
        released = await staff.post("/api/v1/help/release", params={"student": "ada"})
        assert released.status_code == 200 and released.json()["helpClaimedBy"] is None
        assert (await inbox(http, keys["ada"]))["help"]["state"] == "open"


@pytest.mark.parametrize("wait", [0.3])
async def test_a_long_poll_times_out_with_the_same_etag(settings: Settings, wait: float) -> None:
    async with classroom(settings) as room:
        http, keys = room.http, room.keys
        now = await inbox(http, keys["ada"])
        later = await inbox(http, keys["ada"], now["etag"], wait=wait)
        assert later == now


async def test_inbox_limits(settings: Settings) -> None:
    tight = settings.model_copy(update={"inbox_polls_per_student": 1, "inbox_burst": 1000})
    async with classroom(tight) as room:
        http, keys = room.http, room.keys
        now = await inbox(http, keys["ada"])
        holding = asyncio.create_task(inbox(http, keys["ada"], now["etag"], wait=5))
        await held(http)

        async def second_refused() -> bool:
            # wait=0: a probe that gets through holds nothing.
            second = await http.get(
                INBOX, params={"since": now["etag"], "wait": 0}, headers=bearer(keys["ada"])
            )
            return second.status_code == 429 and "long-polls" in second.text

        await eventually(second_refused, what="a second long-poll of ada to be refused")
        # Grace is not limited by ada's polls.
        assert (await inbox(http, keys["grace"]))["help"] is None
        assert (await holding)["etag"] == now["etag"]
        bad = await http.get(INBOX, params={"wait": 99}, headers=bearer(keys["grace"]))
        assert bad.status_code == 422


async def test_inbox_requests_are_rate_limited_per_student(settings: Settings) -> None:
    tight = settings.model_copy(update={"inbox_rate_per_second": 0.01, "inbox_burst": 2})
    async with classroom(tight) as room:
        http, keys = room.http, room.keys
        for _ in range(2):
            await inbox(http, keys["ada"])
        limited = await http.get(INBOX, headers=bearer(keys["ada"]))
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "CELL_MONITOR_INBOX_RATE_PER_SECOND" in limited.text
        assert (await inbox(http, keys["grace"]))["etag"]


async def test_a_pseudonymized_class_finds_the_students_request_under_the_alias(
    settings: Settings,
) -> None:
    hidden = settings.model_copy(
        update={"pseudonymize": True, "pseudonym_key": SecretStr("k" * 32)}
    )
    async with classroom(hidden) as room:
        await send(room.http, room.keys["ada"], help_event(ask=str(uuid.uuid4())))
        view = (await inbox(room.http, room.keys["ada"]))["help"]
        assert view["state"] == "open" and view["position"] == 1
        queue = (await room.staff.get("/api/v1/help/queue")).json()["requests"]
        [entry] = queue
        assert entry["student"] == pseudonym(key_of(hidden), "ada") != "ada"
        assert entry["userName"] != "Ada"


async def test_a_change_on_one_worker_wakes_the_long_poll_on_another(
    settings: Settings, redis_url: str, channel: str
) -> None:
    """Two workers share the database and Redis: the claim and the poll meet on neither."""
    shared = settings.model_copy(
        update={
            "redis_url": redis_url,
            "redis_channel": channel,
            "inbox_channel": f"{channel}-inbox",
        }
    )
    async with (
        classroom(shared) as first,
        live_server(shared) as second_url,
        httpx.AsyncClient(base_url=second_url) as second,
    ):
        await send(first.http, first.keys["ada"], help_event(ask=str(uuid.uuid4())))
        opened = await inbox(second, first.keys["ada"])
        assert opened["help"]["state"] == "open"
        # Held on the second worker; claimed on the first.
        polling = asyncio.create_task(inbox(second, first.keys["ada"], opened["etag"], wait=20))
        await held(second)
        claim = await first.staff.post("/api/v1/help/claim", params={"student": "ada"})
        assert claim.status_code == 200
        claimed = await asyncio.wait_for(polling, 20)
        assert claimed["help"]["state"] == "claimed"
        # And the other way round: the student's help_stop committed on the second.
        polling = asyncio.create_task(inbox(first.http, first.keys["ada"], claimed["etag"], 20))
        await held(second)
        await send(second, first.keys["ada"], help_event("help_stop"))
        assert (await asyncio.wait_for(polling, 20))["help"]["state"] == "resolved"


async def test_a_client_that_goes_away_frees_its_long_poll(settings: Settings) -> None:
    """A Jupyter server that restarts must not find its old long-poll still counted."""
    tight = settings.model_copy(update={"inbox_polls_per_student": 1, "inbox_burst": 1000})
    async with classroom(tight) as room:
        now = await inbox(room.http, room.keys["ada"])
        async with httpx.AsyncClient(base_url=str(room.http.base_url)) as doomed:
            task = asyncio.create_task(inbox(doomed, room.keys["ada"], now["etag"], wait=30))
            await held(room.http)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        async def freed() -> bool:
            metrics = (await room.http.get("/metrics")).text
            return value(metrics, "inbox_waiting_polls") == 0

        await eventually(freed, timeout=10, what="the server to drop the abandoned long-poll")
        again = await inbox(room.http, room.keys["ada"], now["etag"], wait=0.1)
        assert again["etag"] == now["etag"]


async def test_many_inboxes_read_at_once_equal_each_read_alone(settings: Settings) -> None:
    async with classroom(settings) as room:
        for who in ("ada", "grace"):
            await send(room.http, room.keys[who], help_event(ask=str(uuid.uuid4())))
        await room.staff.post("/api/v1/help/claim", params={"student": "ada"})
        await send(room.http, room.keys["grace"], help_event("help_stop"))
        await send(room.http, room.keys["grace"], help_event(ask=str(uuid.uuid4())))
        engine = create_engine(settings)
        try:
            parts = InboxParts(engine)
            keys = ["ada", "grace", "nobody"]
            together = await parts.gather_many(keys)
            alone = {key: await parts.gather(key) for key in keys}
        finally:
            await engine.dispose()
        assert together == alone
        assert together["grace"].help is not None and together["grace"].help.position == 1
        assert together["nobody"].help is None


async def test_a_tas_own_requests_are_those_of_the_teams_of_their_account(
    settings: Settings,
) -> None:
    async with classroom(settings) as room:
        engine = create_engine(settings)
        try:
            await users.create_user(engine, "lin", "lin-password-1", users.Role.ta)
            teams = await users.set_teams(engine, "lin", [" blue ", "green", "blue"])
        finally:
            await engine.dispose()
        assert teams == ["blue", "green"]
        for student in ("ada", "grace"):
            await send(room.http, room.keys[student], help_event(ask=str(uuid.uuid4())))
        headers = await sign_in(str(room.http.base_url), "lin", "lin-password-1")
        async with httpx.AsyncClient(base_url=room.http.base_url, headers=headers) as lin:
            queue = (await lin.get("/api/v1/help/queue")).json()
            assert queue["me"] == "lin (TA)" and queue["myTeams"] == ["blue", "green"]
            mine = {(r["student"], r["teamName"], r["mine"]) for r in queue["requests"]}
            assert mine == {("ada", "red", False), ("grace", "blue", True)}
        # The instructor's account has no teams: only their claims are theirs.
        staff_queue = (await room.staff.get("/api/v1/help/queue")).json()
        assert staff_queue["myTeams"] == []
        assert not any(r["mine"] for r in staff_queue["requests"])
