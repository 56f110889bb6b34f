"""A scripted stand-in for the class server: records requests, answers as told."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.web

from tests.support import free_port


@dataclass
class Answer:
    status: int = 202
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorder:
    """What the fake server received, and the answers it gives in order (then 202)."""

    answers: list[Answer] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for request in self.requests for event in request["events"]]


class _IngestHandler(tornado.web.RequestHandler):
    def initialize(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def post(self) -> None:
        events = json.loads(self.request.body)
        self.recorder.requests.append({"headers": dict(self.request.headers), "events": events})
        answer = self.recorder.answers.pop(0) if self.recorder.answers else Answer()
        self.set_status(answer.status)
        for name, value in answer.headers.items():
            self.set_header(name, value)
        body = answer.body
        if body is None and answer.status == 202:
            body = {"accepted": len(events), "duplicates": 0, "truncated": 0, "rejected": []}
        self.finish(json.dumps(body or {}))


@asynccontextmanager
async def fake_class_server(recorder: Recorder) -> AsyncIterator[str]:
    app = tornado.web.Application([(r"/api/v1/events", _IngestHandler, {"recorder": recorder})])
    port = free_port()
    server = tornado.httpserver.HTTPServer(app)
    server.listen(port, "127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await server.close_all_connections()
