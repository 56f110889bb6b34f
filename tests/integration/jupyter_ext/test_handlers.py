"""The server extension's handlers, on a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
import tornado.web
from tornado.httpclient import HTTPClientError

from tests.support import event

MONITOR_MODULE = "cell_monitor."


def _extension_routes(app: tornado.web.Application) -> list[tuple[str, type]]:
    """(path, handler class) of every route this package added to the server."""
    found: list[tuple[str, type]] = []

    def walk(rules: list[Any]) -> None:
        for rule in rules:
            target = rule.target
            if isinstance(target, tornado.routing.RuleRouter):
                walk(target.rules)
            elif isinstance(target, type) and target.__module__.startswith(MONITOR_MODULE):
                found.append((rule.matcher.regex.pattern.rstrip("$"), target))

    walk(app.default_router.rules)
    walk(app.wildcard_router.rules)
    return found


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> Any:
    # Without XSRF checks a POST is refused only for lack of authentication,
    # which is what this test is about.
    jp_server_config.ServerApp.disable_check_xsrf = True
    return jp_server_config


async def test_every_handler_requires_authentication(
    jp_serverapp: Any, http_server_client: Any
) -> None:
    routes = _extension_routes(jp_serverapp.web_app)
    assert {cls.__name__ for _, cls in routes} == {
        "EventsHandler",
        "StatusHandler",
        "InboxHandler",
        "MessagesHandler",
        "AnnounceHandler",
    }
    checked = 0
    for path, handler in routes:
        for method in handler.SUPPORTED_METHODS:
            if not getattr(handler, method.lower()).__module__.startswith(MONITOR_MODULE):
                continue  # tornado's 405, or jupyter_server's CORS preflight (OPTIONS)
            for headers in ({}, {"Authorization": "token wrong-token"}):
                with pytest.raises(HTTPClientError) as info:
                    await http_server_client.fetch(
                        path,
                        method=method,
                        headers=headers,
                        body=b"[]" if method in ("POST", "PUT", "PATCH") else None,
                        follow_redirects=False,
                    )
                assert info.value.code in (401, 403), (method, path, info.value.code)
                checked += 1
    assert checked >= 10


def test_no_handler_is_missing_an_auth_decorator() -> None:
    """Jupyter Server warns about handlers without @authenticated; none may warn."""
    script = """
import warnings
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import JupyterServerAuthWarning
app = ServerApp(allow_unauthenticated_access=False, jpserver_extensions={"cell_monitor": True},
                reraise_server_extension_failures=True)
with warnings.catch_warnings(record=True) as records:
    warnings.simplefilter("always")
    app.initialize(argv=[], find_extensions=False, new_httpserver=False)
problems = [str(r.message) for r in records if issubclass(r.category, JupyterServerAuthWarning)]
assert "cell_monitor" in app.extension_manager.extensions, "extension not loaded"
print("PROBLEMS", problems)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "PROBLEMS []" in result.stdout, result.stdout


async def post_events(jp_fetch: Any, body: Any) -> Any:
    return await jp_fetch("cell-monitor", "events", method="POST", body=json.dumps(body))


def payload(response: Any) -> dict[str, Any]:
    return dict(json.loads(response.body))


async def test_events_are_queued_durably_and_counted(jp_fetch: Any, extension: Any) -> None:
    first, second = event(), event()
    response = await post_events(jp_fetch, {"events": [first, second]})
    assert response.code == 202
    assert payload(response) == {"queued": 2, "duplicates": 0, "rejected": [], "queueLength": 2}

    again = await post_events(jp_fetch, [first])  # the browser lost our answer and resent
    assert payload(again)["duplicates"] == 1 and payload(again)["queueLength"] == 2
    assert await extension.queue.length() == 2


async def test_invalid_events_are_reported_not_queued(jp_fetch: Any) -> None:
    no_id = {k: v for k, v in event().items() if k != "eventId"}
    response = await post_events(jp_fetch, [event(), no_id, "text", event(eventId="x" * 200)])
    body = payload(response)
    assert body["queued"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b'{"no": "events"}', 400), (json.dumps([{}] * 1001).encode(), 413)],
)
async def test_unusable_requests_are_refused(jp_fetch: Any, body: bytes, status: int) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("cell-monitor", "events", method="POST", body=body)
    assert info.value.code == status


async def announce(jp_fetch: Any, body: Any) -> list[str]:
    raw = body if isinstance(body, bytes) else json.dumps(body)
    response = await jp_fetch("cell-monitor", "messages", "announce", method="POST", body=raw)
    assert response.code == 200
    return list(payload(response)["announce"])


async def test_a_message_is_announced_by_the_first_tab_that_asks(
    jp_fetch: Any, extension: Any
) -> None:
    tabs = [announce(jp_fetch, {"messageIds": ["m1", "m2"]}) for _ in range(4)]
    granted = await asyncio.gather(*tabs)
    assert sorted(i for ids in granted for i in ids) == ["m1", "m2"]
    assert await announce(jp_fetch, {"messageIds": ["m2", "m3"]}) == ["m3"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"no": "ids"}',
        json.dumps({"messageIds": [""]}).encode(),
        json.dumps({"messageIds": ["x" * 129]}).encode(),
        json.dumps({"messageIds": [f"m{i}" for i in range(101)]}).encode(),
    ],
)
async def test_unusable_announce_requests_are_refused_and_claim_nothing(
    jp_fetch: Any, body: bytes
) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("cell-monitor", "messages", "announce", method="POST", body=body)
    assert info.value.code == 400
    assert "messageIds" in json.loads(info.value.response.body)["detail"]
    assert await announce(jp_fetch, {"messageIds": ["m0", "m1"]}) == ["m0", "m1"]


@pytest.mark.parametrize("monitor_config", [{"max_queue_events": 3}])
async def test_a_full_queue_refuses_the_batch_so_the_browser_keeps_it(jp_fetch: Any) -> None:
    await post_events(jp_fetch, [event(), event()])
    with pytest.raises(HTTPClientError) as info:
        await post_events(jp_fetch, [event(), event()])
    assert info.value.code == 503
    assert info.value.response.headers["Retry-After"] == "60"


@pytest.mark.parametrize("monitor_config", [{"enabled": False}])
async def test_nothing_is_accepted_when_disabled(jp_fetch: Any, extension: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await post_events(jp_fetch, [event()])
    assert info.value.code == 409
    status = payload(await jp_fetch("cell-monitor", "status"))
    assert status["enabled"] is False
    assert not extension.forwarder.running


async def test_status_tells_the_browser_what_it_needs(jp_fetch: Any, extension: Any) -> None:
    status = payload(await jp_fetch("cell-monitor", "status"))
    assert status.pop("notice") == {
        "requireConsent": False,
        "privacyContact": None,
        "userId": extension.user_id or None,
        "engagement": True,
    }
    assert status == {
        "enabled": True,
        "configured": False,
        "serverUrl": None,
        "hubUser": None,
        "identity": None,
        "queueLength": 0,
        "state": "ok",
        "queueFull": False,
        "unreachableSeconds": None,
        "warnAfterSeconds": 120,
        "lastError": None,
        "queueError": None,
        "lastDeliveryAt": None,
        "delivered": 0,
    }


async def test_the_students_server_url_setting_is_used_without_server_config(
    jp_fetch: Any, extension: Any
) -> None:
    target = {"serverUrl": "http://class.example.org:8000", "ingestToken": "t0k"}
    await post_events(jp_fetch, {"events": [event()], "target": target})
    status = payload(await jp_fetch("cell-monitor", "status"))
    assert status["configured"] is True
    assert status["serverUrl"] == "http://class.example.org:8000"
    stored = await extension.queue.get_meta("client_target")
    assert json.loads(stored)["ingest_token"] == "t0k"  # kept across restarts


@pytest.mark.parametrize(
    "monitor_config", [{"server_url": "http://admin.example.org", "hub_user": "ada"}]
)
async def test_admin_configuration_wins_over_the_browser(jp_fetch: Any, extension: Any) -> None:
    target = {"serverUrl": "http://elsewhere.example.org", "ingestToken": "x"}
    await post_events(jp_fetch, {"events": [event()], "target": target})
    status = payload(await jp_fetch("cell-monitor", "status"))
    assert status["serverUrl"] == "http://admin.example.org"
    assert status["hubUser"] == "ada"
    assert await extension.queue.get_meta("client_target") is None


@pytest.mark.parametrize(
    "monitor_config",
    [{"require_consent": True, "privacy_contact": "privacy@school.example", "user_id": "ada"}],
)
async def test_with_consent_required_nothing_is_queued_without_it(
    jp_fetch: Any, extension: Any
) -> None:
    status = payload(await jp_fetch("cell-monitor", "status"))
    assert status["notice"] == {
        "requireConsent": True,
        "privacyContact": "privacy@school.example",
        "userId": "ada",
        "engagement": True,
    }
    for body in ([event()], {"events": [event()]}, {"events": [event()], "consent": False}):
        with pytest.raises(HTTPClientError) as info:
            await post_events(jp_fetch, body)
        assert info.value.code == 409
        assert "data notice" in info.value.response.body.decode()
    assert await extension.queue.length() == 0
    response = await post_events(jp_fetch, {"events": [event()], "consent": True})
    assert response.code == 202
    assert await extension.queue.length() == 1


def test_event_id_is_what_makes_retries_safe() -> None:
    assert uuid.UUID(event()["eventId"])
