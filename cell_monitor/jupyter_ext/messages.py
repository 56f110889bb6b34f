"""The student's message history, fetched from the class server when a page asks for it.

Not polled: a page reads it once when it opens (the inbox delivers what is new
after that). The same credential as the forwarder and the inbox relay.
"""

from __future__ import annotations

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from cell_monitor.contract.messages import MessageHistory
from cell_monitor.jupyter_ext.forwarder import Target

HISTORY_PATH = "/api/v1/student/messages"


class HistoryUnavailable(Exception):
    """The class server did not give the history (the reason in words)."""


async def fetch_history(target: Target, timeout: float) -> MessageHistory:
    """The history as the class server holds it, or HistoryUnavailable."""
    headers = {"Accept": "application/json"}
    if target.hub_token:
        headers["Authorization"] = f"token {target.hub_token}"
    elif target.ingest_token:
        headers["Authorization"] = f"Bearer {target.ingest_token}"
    request = HTTPRequest(
        f"{target.server_url.rstrip('/')}{HISTORY_PATH}",
        headers=headers,
        request_timeout=timeout,
        connect_timeout=min(10.0, timeout),
        follow_redirects=False,
    )
    response = await AsyncHTTPClient().fetch(request, raise_error=False)
    if response.code == 599:
        raise HistoryUnavailable(f"class server unreachable: {response.error}")
    if response.code != 200:
        raise HistoryUnavailable(f"the class server answered {response.code}")
    try:
        return MessageHistory.model_validate_json(response.body or b"")
    except ValueError as exc:
        raise HistoryUnavailable("the class server's answer is not a message history") from exc
