"""cell-monitor as a service of a real JupyterHub, over HTTP (the browser's path is tests/e2e/).

One hub (the configuration of docs/jupyterhub.md) and one class server per
module; the tests that stop the hub or use the hub-managed variant start
their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from cell_monitor.doctor.findings import Report
from cell_monitor.doctor.options import DoctorOptions
from cell_monitor.doctor.runner import run_doctor
from tests.hub_support import (
    HUB_ADMIN,
    INSTRUCTOR,
    MANAGED,
    OUTSIDER,
    TA,
    Hub,
    hub_deployment,
    hub_sign_in,
)
from tests.integration.test_health_metrics import value
from tests.support import ServerProcess, event, eventually_sync, free_port, instructor_headers

pytestmark = pytest.mark.slow
URL = "/api/v1/events"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, ServerProcess]]:
    with hub_deployment(
        tmp_path_factory.mktemp("hub"),
        CELL_MONITOR_HUB_RECHECK_SECONDS="0.5",
        CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS="0.2",
    ) as pair:
        yield pair


def post(server: ServerProcess, events: list[dict[str, Any]], **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}{URL}", json=events, headers=headers, timeout=10)


def hub_auth(token: str) -> str:
    return f"token {token}"


def events_of(server: ServerProcess, student: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}{URL}",
        params={"student": student, "limit": 1000},
        headers=instructor_headers(server.url),
        timeout=10,
    )
    response.raise_for_status()
    return list(response.json()["items"])


def lookups(hub: Hub, user: str) -> int:
    """How many times the hub was asked whose a token of `user` is."""
    return hub.log().count(f"GET /hub/api/user ({user}@")


def test_health_names_the_hub(deployment: tuple[Hub, ServerProcess]) -> None:
    hub, server = deployment
    body = httpx.get(f"{server.url}/health", timeout=10).json()
    assert body["jupyterhub"] == f"{hub.url}/hub/"
    assert body["services"]["jupyterhub"] == "healthy"


@pytest.mark.parametrize(
    ("user", "role"), [(INSTRUCTOR, "instructor"), (TA, "ta"), (HUB_ADMIN, "admin")]
)
def test_the_role_comes_from_hub_groups_or_hub_admin(
    deployment: tuple[Hub, ServerProcess], user: str, role: str
) -> None:
    _hub, server = deployment
    with httpx.Client(timeout=30) as http:
        callback = hub_sign_in(http, server.url, user)
        assert callback.status_code == 303 and callback.headers["location"] == "/dashboard"
        me = http.get(f"{server.url}/api/v1/me")
        assert me.status_code == 200
        assert me.json() == {"username": f"hub:{user}", "role": role}
        # The same session as a local sign-in: state changes need the server's own origin.
        forged = http.post(
            f"{server.url}/logout",
            headers={"Origin": "http://evil.example"},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        assert http.post(f"{server.url}/logout", follow_redirects=False).status_code == 303
        assert http.get(f"{server.url}/api/v1/me").status_code == 401


def test_an_outsider_gets_403_and_no_session(deployment: tuple[Hub, ServerProcess]) -> None:
    _hub, server = deployment
    with httpx.Client(timeout=30) as http:
        callback = hub_sign_in(http, server.url, OUTSIDER)
        assert callback.status_code == 403
        assert f"{OUTSIDER} is not an instructor" in callback.text
        assert "cell_monitor_session" not in callback.headers.get("set-cookie", "")
        assert http.get(f"{server.url}/api/v1/me").status_code == 401


def test_a_forged_or_replayed_callback_opens_nothing(deployment: tuple[Hub, ServerProcess]) -> None:
    _hub, server = deployment
    with httpx.Client(timeout=30) as http:
        # No pending sign-in in this browser: the state cannot match.
        stray = http.get(f"{server.url}/login/hub/callback", params={"code": "x", "state": "y"})
        assert stray.status_code == 400 and "expired" in stray.text
        start = http.get(f"{server.url}/login/hub", follow_redirects=False)
        assert start.status_code == 303 and "code_challenge=" in start.headers["location"]
        wrong = http.get(f"{server.url}/login/hub/callback", params={"code": "x", "state": "y"})
        assert wrong.status_code == 400
        assert http.get(f"{server.url}/api/v1/me").status_code == 401


def test_leaving_the_staff_groups_ends_the_session(deployment: tuple[Hub, ServerProcess]) -> None:
    hub, server = deployment
    with httpx.Client(timeout=30) as http:
        assert hub_sign_in(http, server.url, TA).status_code == 303
        assert http.get(f"{server.url}/api/v1/me").json()["role"] == "ta"
        # Promoted on the hub: the dashboard follows within the re-check interval.
        hub.api("POST", "groups/instructors/users", json={"users": [TA]}).raise_for_status()
        eventually_sync(
            lambda: http.get(f"{server.url}/api/v1/me").json().get("role") == "instructor",
            10,
            "the new role",
            interval=0.2,
        )
        for group in ("instructors", "tas"):
            hub.api("DELETE", f"groups/{group}/users", json={"users": [TA]}).raise_for_status()
        eventually_sync(
            lambda: http.get(f"{server.url}/api/v1/me").status_code == 401,
            10,
            "the session's end",
            interval=0.2,
        )
        hub.api("POST", "groups/tas/users", json={"users": [TA]}).raise_for_status()
        # Ended for good: being added back needs a new sign-in.
        assert http.get(f"{server.url}/api/v1/me").status_code == 401


def test_my_teams_are_the_accounts_and_the_hub_groups(
    deployment: tuple[Hub, ServerProcess],
) -> None:
    hub, server = deployment
    hub.api("POST", "groups/team-red/users", json={"users": [INSTRUCTOR]}).raise_for_status()
    try:
        with httpx.Client(timeout=30) as http:
            assert hub_sign_in(http, server.url, INSTRUCTOR).status_code == 303
            queue = http.get(f"{server.url}/api/v1/help/queue").json()
            assert queue["myTeams"] == ["red"]
            command = ["user", "teams", f"hub:{INSTRUCTOR}", "green", "blue"]
            set_teams = subprocess.run(
                [sys.executable, "-m", "cell_monitor.cli", *command],
                env={**os.environ, **_server_database(server)},
                capture_output=True,
                text=True,
            )
            assert set_teams.returncode == 0, set_teams.stderr
            queue = http.get(f"{server.url}/api/v1/help/queue").json()
            # The account's teams first, then those of the hub groups.
            assert queue["myTeams"] == ["green", "blue", "red"]
    finally:
        hub.api("DELETE", "groups/team-red/users", json={"users": [INSTRUCTOR]})


def test_a_users_token_reports_only_as_that_user(deployment: tuple[Hub, ServerProcess]) -> None:
    hub, server = deployment
    alice = hub.user_token("alice")
    before = httpx.get(f"{server.url}/metrics", timeout=10).text
    forged = [
        event(emailAddress="bob@school.example", userName="Bob", teamName="blue", code="f1"),
        event(emailAddress=None, userId="bob", code="f2"),
        event(emailAddress=None, userId="alice", code="own"),
        event(emailAddress=None, code="anonymous"),
    ]
    answer = post(server, forged, Authorization=hub_auth(alice))
    assert answer.status_code == 202 and answer.json()["accepted"] == 4
    stored = {e["code"]: e for e in events_of(server, "alice")}
    assert {"f1", "f2", "own", "anonymous"} <= set(stored)
    for code in ("f1", "f2", "own", "anonymous"):
        assert stored[code]["userId"] == "alice" and stored[code]["emailAddress"] is None
        assert stored[code]["userName"] == "alice" and stored[code]["teamName"] == "red"
    assert not [e for e in events_of(server, "bob") if e["code"] in {"f1", "f2"}]
    assert events_of(server, "bob@school.example") == []
    after = httpx.get(f"{server.url}/metrics", timeout=10).text
    name = "ingest_identity_mismatch_total"
    assert value(after, name, action="overwritten") - value(before, name, action="overwritten") == 2


def test_lookups_are_cached_per_token(deployment: tuple[Hub, ServerProcess]) -> None:
    hub, server = deployment
    bob = hub.user_token("bob")
    asked = lookups(hub, "bob")
    for index in range(5):
        ok = post(server, [event(emailAddress=None, code=f"b{index}")], Authorization=hub_auth(bob))
        assert ok.status_code == 202
    eventually_sync(lambda: lookups(hub, "bob") > asked, 5, "the hub's log line", interval=0.2)
    assert lookups(hub, "bob") == asked + 1


def test_what_the_hub_does_not_vouch_for_is_refused(deployment: tuple[Hub, ServerProcess]) -> None:
    hub, server = deployment
    invalid = post(server, [event()], Authorization=hub_auth("0" * 32))
    assert invalid.status_code == 403 and invalid.json()["detail"] == "hub token invalid"
    service = post(server, [event()], Authorization=hub_auth(hub.harness_token))
    assert service.status_code == 403 and "service" in service.json()["detail"]
    # Hub mode binds identity: a body that only declares one is refused ...
    anonymous = post(server, [event()])
    assert anonymous.status_code == 401 and "verified identity" in anonymous.json()["detail"]
    # ... and so is a course token, which trusts the body.
    created = subprocess.run(
        [sys.executable, "-m", "cell_monitor.cli", "token", "create", "python-101"],
        env={**os.environ, **_server_database(server)},
        capture_output=True,
        text=True,
        check=True,
    )
    course = created.stdout.strip()

    def refused_with_course_token() -> bool:
        answer = post(server, [event()], Authorization=f"Bearer {course}")
        return answer.status_code == 401 and "verified identity" in answer.json()["detail"]

    eventually_sync(
        refused_with_course_token, 10, "the course token to be known and refused", interval=0.2
    )


def inbox(server: ServerProcess, token: str | None, **params: Any) -> httpx.Response:
    headers = {"Authorization": hub_auth(token)} if token else {}
    url = f"{server.url}/api/v1/student/inbox"
    return httpx.get(url, params=params, headers=headers, timeout=30)


def test_a_users_token_opens_only_their_own_inbox(deployment: tuple[Hub, ServerProcess]) -> None:
    """The return path on a hub: the hub token, never the body, says whose inbox it is."""
    hub, server = deployment
    alice, bob = hub.user_token("alice"), hub.user_token("bob")
    # Alice's Jupyter server asks for help, with a body that claims bob.
    ask = event(
        eventType="help", emailAddress=None, userId="bob", helpRequestId="hub-ask-1", code=None
    )
    assert post(server, [ask], Authorization=hub_auth(alice)).status_code == 202
    mine = inbox(server, alice, wait=0)
    assert mine.status_code == 200
    assert mine.json()["help"]["state"] == "open"
    assert mine.json()["help"]["helpRequestId"] == "hub-ask-1"
    assert inbox(server, bob, wait=0).json()["help"] is None
    assert inbox(server, None, wait=0).status_code in (401, 403)
    assert inbox(server, "0" * 32, wait=0).status_code == 403
    # A TA signed in through the hub says "on my way": alice's held long-poll wakes with it.
    with httpx.Client(timeout=30) as http:
        assert hub_sign_in(http, server.url, TA).status_code == 303
        queue = http.get(f"{server.url}/api/v1/help/queue").json()
        assert any(entry["student"] == "alice" for entry in queue["requests"]), queue
        claim = http.post(f"{server.url}/api/v1/help/claim", params={"student": "alice"})
        assert claim.status_code == 200, claim.text
    woken = inbox(server, alice, since=mine.json()["etag"], wait=20).json()
    assert woken["help"]["state"] == "claimed"
    assert TA in woken["help"]["claimedBy"]
    assert inbox(server, bob, wait=0).json()["help"] is None


def _server_database(server: ServerProcess) -> dict[str, str]:
    return {k: v for k, v in server.env.items() if k in {"DATABASE_URL", "CELL_MONITOR_DATA_DIR"}}


def test_the_hub_away_keeps_known_tokens_working(tmp_path: Path) -> None:
    with hub_deployment(tmp_path) as (hub, server):
        known, unknown = hub.user_token("alice"), hub.user_token("bob")
        assert post(server, [event(code="k1")], Authorization=hub_auth(known)).status_code == 202
        hub.stop()
        # Known to the worker: accepted while the hub is away.
        assert post(server, [event(code="k2")], Authorization=hub_auth(known)).status_code == 202
        away = post(server, [event()], Authorization=hub_auth(unknown))
        assert away.status_code == 503 and away.headers["retry-after"] == "5"
        assert "JupyterHub unavailable" in away.json()["detail"]
        health = httpx.get(f"{server.url}/health", timeout=10)
        assert health.status_code == 503
        assert health.json()["services"]["jupyterhub"].startswith("unhealthy")
        # Ingest still works for what it can verify: the worker stays ready.
        assert httpx.get(f"{server.url}/health/ready", timeout=10).status_code == 200
        assert {"k1", "k2"} <= {e["code"] for e in events_of(server, "alice")}


def test_the_hub_managed_service_starts_and_serves(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "class-server"
    hub = Hub(tmp_path / "hub", kind=MANAGED, class_server_url=f"http://127.0.0.1:{port}")
    hub.extra_env = {
        "CELL_MONITOR_HOST": "127.0.0.1",
        "CELL_MONITOR_PORT": str(port),
        "CELL_MONITOR_DATA_DIR": str(data_dir),
        "CELL_MONITOR_HUB_API_URL": hub.api_url,
        "CELL_MONITOR_HUB_PUBLIC_URL": hub.url,
    }
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        hub.start()
        eventually_sync(ready, 60, "the class server the hub started", interval=0.2)
        body = httpx.get(f"{url}/health", timeout=10).json()
        assert body["jupyterhub"] == f"{hub.url}/hub/"
        assert body["services"]["jupyterhub"] == "healthy"
        alice = hub.user_token("alice")
        answer = httpx.post(
            f"{url}{URL}",
            json=[event(emailAddress="bob@school.example", code="managed")],
            headers={"Authorization": hub_auth(alice)},
            timeout=10,
        )
        assert answer.status_code == 202
        with httpx.Client(timeout=30) as http:
            assert hub_sign_in(http, url, INSTRUCTOR).status_code == 303
            page = http.get(f"{url}{URL}", params={"student": "alice"}).json()
        assert [e["code"] for e in page["items"]] == ["managed"]
    finally:
        hub.stop()
    # The hub stopped the class server it started.
    eventually_sync(lambda: not ready(), 30, "the class server to stop with the hub", interval=0.2)


async def hub_doctor(hub: Hub, server: ServerProcess, **overrides: Any) -> Report:
    values: dict[str, Any] = {
        "hub_api_url": hub.api_url,
        "hub_api_token": hub.service_token,
        "hub_public_url": hub.url,
        "hub_oauth_callback_url": f"{server.url}/login/hub/callback",
        **overrides,
    }
    settings = Settings(_env_file=None, database_url=server.env["DATABASE_URL"], **values)  # type: ignore[call-arg]
    return await run_doctor(DoctorOptions(settings=settings, only=("jupyterhub",)))


async def test_doctor_checks_the_hub_integration(deployment: tuple[Hub, ServerProcess]) -> None:
    hub, server = deployment
    healthy = await hub_doctor(hub, server)
    [result] = healthy.results
    assert result.findings == [] and "service 'cell-monitor'" in result.summary
    assert "sign in" in result.summary

    def ids(report: Report) -> list[str]:
        return [f.id for f in report.findings]

    assert ids(await hub_doctor(hub, server, hub_api_token="0" * 32)) == [
        "jupyterhub.token_invalid"
    ]
    alice = hub.user_token("alice")
    assert ids(await hub_doctor(hub, server, hub_api_token=alice)) == ["jupyterhub.not_a_service"]
    nowhere = f"http://127.0.0.1:{free_port()}/hub/api"
    assert ids(await hub_doctor(hub, server, hub_api_url=nowhere)) == ["jupyterhub.unreachable"]
    wrong_path = f"{server.url}/oauth_callback"
    assert ids(await hub_doctor(hub, server, hub_oauth_callback_url=wrong_path)) == [
        "jupyterhub.callback_path"
    ]
    elsewhere = f"http://127.0.0.1:{free_port()}/login/hub/callback"
    assert ids(await hub_doctor(hub, server, hub_oauth_callback_url=elsewhere)) == [
        "jupyterhub.callback_unreachable"
    ]
    hub_elsewhere = f"http://127.0.0.1:{free_port()}"
    assert ids(await hub_doctor(hub, server, hub_public_url=hub_elsewhere)) == [
        "jupyterhub.public_url"
    ]
    assert ids(await hub_doctor(hub, server, hub_oauth_callback_url=None)) == [
        "jupyterhub.sign_in_off"
    ]


def test_a_service_without_its_scopes_is_reported() -> None:
    from cell_monitor.doctor.hub import _scopes

    assert _scopes({"scopes": ["read:users:name!user=x", "read:users:groups"]}) == []
    [missing] = _scopes({"scopes": ["read:users:name"]})
    assert missing.id == "jupyterhub.scopes_missing" and "read:users:groups" in missing.title
